"""The real-runtime test tier: the function folders run in Azure's Python worker library, driven over gRPC."""
