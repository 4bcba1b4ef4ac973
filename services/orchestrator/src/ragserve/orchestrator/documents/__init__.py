"""Document processing for ingest: bytes of a media type -> extracted text with
sections and pages -> token-bounded chunks with offsets. Pure code: no I/O, no grpc."""
