"""The JSON API's kernel: one OpenAPI description, one page shape, one error shape, and who may call what.

Each area declares its operations in its own ``api.py`` on an :class:`lims.api.blueprint.ApiBlueprint`, which its
setup module registers (``registry.api_blueprint``); :func:`lims.api.factory.create_api` describes them all at
``/api/v1/openapi.json``.
"""
