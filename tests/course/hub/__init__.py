"""A real JupyterHub on 127.0.0.1 with Linux users: the classroom's whole term (``test_hub.py``)."""
