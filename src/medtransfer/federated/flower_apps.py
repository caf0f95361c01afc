"""The apps Flower's deployment engine loads: ``medtransfer.federated.flower_apps:client_app``
on every site's SuperNode, ``:server_app`` on the coordinator (see
:mod:`medtransfer.federated.deploy`). Importing this module needs Flower.
"""

from medtransfer.federated.deploy import make_deployed_client_app, make_deployed_server_app

client_app = make_deployed_client_app()
server_app = make_deployed_server_app()
