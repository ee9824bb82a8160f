"""Generated protobuf and gRPC code for fieldgate.v1 (do not edit)."""
