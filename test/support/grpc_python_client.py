"""An independent client of infergate's gRPC door: Debian's python3-grpcio, with stubs that
grpc_tools.protoc generated from the project's .proto files (the caller puts them on PYTHONPATH).
Calls ServerLive, ModelMetadata, ModelInfer with raw and with typed contents, a request that
fails, a ModelStreamInfer with a bad request in the middle, and the health check; prints what it
got as one JSON object for the test to check.

usage: grpc_python_client.py HOST:PORT
"""
import json
import struct
import sys

import grpc

import grpc_service_pb2 as pb
import grpc_service_pb2_grpc as pb_grpc
import health_pb2
import health_pb2_grpc

FLOATS = [i / 4 - 1.5 for i in range(16)]


def identity_raw(request_id):
    request = pb.ModelInferRequest(model_name="identity", id=request_id)
    tensor = request.inputs.add()
    tensor.name = "INPUT0"
    tensor.datatype = "FP32"
    tensor.shape.extend([1, 16])
    request.raw_input_contents.append(struct.pack("<16f", *FLOATS))
    return request


def add_sub_typed(request_id, a, b):
    request = pb.ModelInferRequest(model_name="add_sub", id=request_id)
    for name, values in (("INPUT0", a), ("INPUT1", b)):
        tensor = request.inputs.add()
        tensor.name = name
        tensor.datatype = "INT32"
        tensor.shape.extend([1, 16])
        tensor.contents.int_contents.extend(values)
    return request


def unknown_input(request_id):
    request = identity_raw(request_id)
    request.inputs[0].name = "INPUT9"
    return request


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    out = {}

    out["live"] = stub.ServerLive(pb.ServerLiveRequest()).live

    meta = stub.ModelMetadata(pb.ModelMetadataRequest(name="identity"))
    out["metadata"] = {
        "name": meta.name,
        "versions": list(meta.versions),
        "platform": meta.platform,
        "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in meta.inputs],
    }

    raw = stub.ModelInfer(identity_raw("py-raw"))
    out["raw"] = {
        "id": raw.id,
        "model_version": raw.model_version,
        "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in raw.outputs],
        "values": list(struct.unpack("<16f", raw.raw_output_contents[0])),
    }

    a = list(range(16))
    b = [3] * 16
    typed = stub.ModelInfer(add_sub_typed("py-typed", a, b))
    out["typed"] = {
        "id": typed.id,
        "names": [t.name for t in typed.outputs],
        "sum": list(struct.unpack("<16i", typed.raw_output_contents[0])),
        "difference": list(struct.unpack("<16i", typed.raw_output_contents[1])),
    }

    try:
        stub.ModelInfer(unknown_input("py-bad"))
        out["error"] = None
    except grpc.RpcError as err:
        out["error"] = {"code": err.code().name, "details": err.details()}

    def stream_requests():
        yield identity_raw("s1")
        yield unknown_input("s2")
        yield add_sub_typed("s3", a, b)

    out["stream"] = [
        {"error_message": r.error_message, "id": r.infer_response.id, "outputs": len(r.infer_response.raw_output_contents)}
        for r in stub.ModelStreamInfer(stream_requests())
    ]

    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest()).status
    out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(status)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
