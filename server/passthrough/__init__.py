"""Passthrough: a host calls a provider's API with a connection ID and never touches its tokens.

`paths` refuses any path that could leave the integration's API base; `target` builds the URL and
the credentials from the catalog's `api` block and the connection; `forward` makes the call with
the credentials valid now (one refresh and one retry on a 401) and streams both bodies. The REST
glue is server/api/passthrough.py.
"""
