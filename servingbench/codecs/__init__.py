"""Client codecs for the native protocols several frameworks share: texts JSON and the Open Inference
Protocol V2 over REST (rest.py), and their gRPC side with .proto files compiled at first use (grpc.py).
"""
