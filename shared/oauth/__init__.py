"""OAuth 2.0 (RFC 6749) for app-to-app access: the client credentials grant and its errors."""
