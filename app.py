import gc

from seller import create_app

app = create_app()
# What starting made (modules, models, templates' machinery) lives as long as the worker: keep it out of the
# collector, whose full passes over it paused a request by 40-400 ms now and then.
gc.freeze()
