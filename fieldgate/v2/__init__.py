"""Generated protobuf and gRPC code for fieldgate.v2 (do not edit)."""
