"""SCIM 2.0 server (RFC 7643/7644) over the identity store, mounted at /scim/v2."""
