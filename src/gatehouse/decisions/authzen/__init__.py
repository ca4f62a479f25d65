"""OpenID AuthZEN Authorization API 1.0 and the enterprise `/v1/authorize` request."""
