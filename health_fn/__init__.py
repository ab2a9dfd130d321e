"""GET /health: liveness and registry reachability."""

from shared.functions_adapter import http_function
from shared.health import health_endpoint

main = http_function(health_endpoint)
