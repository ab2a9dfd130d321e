"""GET, POST /portal/{*path}: the registration portal's pages (customer admins and operators)."""

from shared.functions_adapter import http_function
from shared.portal.app import portal_endpoint

main = http_function(portal_endpoint)
