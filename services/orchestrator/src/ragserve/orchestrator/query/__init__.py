"""The query pipeline: embed the question, search the collections, merge, answer.

Everything here is domain logic (no grpc import): the servicer converts protos to
:mod:`.model` objects and back, and the pipeline talks to the router, retrieval and
answer generators through the small interfaces in :mod:`.ports`.
"""
