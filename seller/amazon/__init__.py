"""The Amazon connection (contract §11): orders in from the Selling Partner API, and what the desk does out to
it through an outbox.

`connection` (the saved connection and the client made from it), `client` (the SP-API around Amazon's SDK),
`sync` (orders in, through the report import's code), `push` (the outbox out), `worker` (one loop, one lock),
`feeds` (the XML feeds and their processing reports)."""
