from seller import create_app
app = create_app()
