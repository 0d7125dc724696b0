"""The Kerberos tier (``pytest -m kerberos``, docs/testing.md): a real MIT KDC (the ``kdc`` fixture of
``clpbackup.testing``), simulated nodes that are members of its realm, clpbackup with a real ticket.

Every module here is marked ``kerberos`` (``pytestmark``; kept out of the fast suite); where the MIT
tools or the ``gssapi`` package are missing the ``kdc`` fixture skips with the reason
(``.ci/install-kerberos`` installs them; CI runs the tier).
"""
