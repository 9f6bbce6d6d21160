#!/usr/bin/env python3
"""Loopback OTLP/HTTP receiver for the Stitch iOS exporter tests.

Decodes what the exporter sends with the official OpenTelemetry protobuf
classes (opentelemetry-proto), so the tests check the hand-written Swift
encoder against the reference decoder rather than against itself.

Usage: otlp_receiver.py [--port 0]

Binds 127.0.0.1 only, prints "LISTENING <port>" as its first stdout line and
exits when stdin reaches EOF (so a parent that dies never leaves it running)
or on POST /control/shutdown.

Endpoints:
  POST /v1/traces, /v1/logs   OTLP/HTTP protobuf (optionally gzip)
  POST /control/faults        {"faults": [...]} appended to a FIFO fault plan
  GET  /control/received      {"requests": [...], "errors": [...], ...}
  POST /control/reset         clears requests, errors and faults
  GET  /control/health        200 "ok"
  POST /control/shutdown      stops the receiver
"""

import argparse
import base64
import collections
import json
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

try:
    from google.protobuf import unknown_fields as _unknown_fields
except ImportError:  # older protobuf: fall back to comparing sizes
    _unknown_fields = None

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_DISCARD_BYTES = 256 * 1024 * 1024
MAX_RECORDED_REQUESTS = 10_000
MAX_RECORDED_ERRORS = 10_000
MAX_QUEUED_FAULTS = 10_000
MAX_UNKNOWN_FIELD_PATHS = 50
MAX_DELAY_MS = 60_000
ID_FIELDS = frozenset(("trace_id", "span_id", "parent_span_id"))

SIGNALS = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "rejected_spans",
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "rejected_log_records",
    ),
}

FAULT_DEFAULTS = {
    "status": 200,
    "retry_after": None,
    "delay_ms": 0,
    "drop_connection": False,
    "partial_rejected": 0,
    "partial_message": "",
    "path": None,
}


class FaultError(ValueError):
    """A fault in POST /control/faults is malformed."""


def parse_fault(raw):
    """Validates one fault object and fills in defaults."""
    if not isinstance(raw, dict):
        raise FaultError("each fault must be an object")
    unknown = set(raw) - set(FAULT_DEFAULTS)
    if unknown:
        raise FaultError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
    fault = dict(FAULT_DEFAULTS)
    fault.update(raw)

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(fault["status"]) or not 100 <= fault["status"] <= 599:
        raise FaultError("status must be an integer in 100...599")
    if fault["retry_after"] is not None and not isinstance(fault["retry_after"], str):
        raise FaultError("retry_after must be a string or null")
    if not is_int(fault["delay_ms"]) or not 0 <= fault["delay_ms"] <= MAX_DELAY_MS:
        raise FaultError("delay_ms must be an integer in 0...%d" % MAX_DELAY_MS)
    if not isinstance(fault["drop_connection"], bool):
        raise FaultError("drop_connection must be a boolean")
    if not is_int(fault["partial_rejected"]) or not -(2**63) <= fault["partial_rejected"] < 2**63:
        raise FaultError("partial_rejected must be a 64-bit integer")
    if not isinstance(fault["partial_message"], str):
        raise FaultError("partial_message must be a string")
    if fault["path"] is not None and fault["path"] not in SIGNALS:
        raise FaultError("path must be one of %s or null" % ", ".join(sorted(SIGNALS)))
    return fault


def ids_to_hex(node):
    """Turns base64 trace/span ids in a MessageToDict result into lowercase hex, recursively."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                out[key] = base64.b64decode(value).hex()
            else:
                out[key] = ids_to_hex(value)
        return out
    if isinstance(node, list):
        return [ids_to_hex(v) for v in node]
    return node


def unknown_field_paths(message, path="", found=None):
    """Paths of every unknown field in message and its sub-messages (at most MAX_UNKNOWN_FIELD_PATHS listed)."""
    if found is None:
        found = {"count": 0, "paths": []}
    if _unknown_fields is not None:
        unknown = [(f.field_number, f.wire_type) for f in _unknown_fields.UnknownFieldSet(message)]
    else:
        copy = type(message)()
        copy.CopyFrom(message)
        copy.DiscardUnknownFields()
        unknown = [("?", "?")] if copy.ByteSize() != message.ByteSize() else []
    for number, wire_type in unknown:
        found["count"] += 1
        if len(found["paths"]) < MAX_UNKNOWN_FIELD_PATHS:
            found["paths"].append("%s#%s(wire %s)" % (path or "<root>", number, wire_type))
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        name = path + "." + descriptor.name if path else descriptor.name
        if descriptor.is_repeated:
            if descriptor.message_type.GetOptions().map_entry:
                continue  # OTLP has no map fields
            for index, item in enumerate(value):
                unknown_field_paths(item, "%s[%d]" % (name, index), found)
        else:
            unknown_field_paths(value, name, found)
    return found


class ReceiverState:
    """What the receiver has seen, and the fault plan; shared by all handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = collections.deque(maxlen=MAX_RECORDED_REQUESTS)
        self.errors = collections.deque(maxlen=MAX_RECORDED_ERRORS)
        self.faults = collections.deque()
        self.dropped_requests = 0
        self.dropped_errors = 0
        self.sequence = 0

    def next_sequence(self):
        with self.lock:
            self.sequence += 1
            return self.sequence

    def record_request(self, record):
        with self.lock:
            if len(self.requests) == self.requests.maxlen:
                self.dropped_requests += 1
            self.requests.append(record)

    def record_error(self, record):
        with self.lock:
            if len(self.errors) == self.errors.maxlen:
                self.dropped_errors += 1
            self.errors.append(record)

    def add_faults(self, faults):
        with self.lock:
            if len(self.faults) + len(faults) > MAX_QUEUED_FAULTS:
                raise FaultError("at most %d faults may be queued" % MAX_QUEUED_FAULTS)
            self.faults.extend(faults)

    def take_fault(self, path):
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault["path"] is None or fault["path"] == path:
                    del self.faults[index]
                    return fault
            return None

    def snapshot(self):
        with self.lock:
            return {
                "requests": list(self.requests),
                "errors": list(self.errors),
                "dropped_requests": self.dropped_requests,
                "dropped_errors": self.dropped_errors,
                "pending_faults": len(self.faults),
            }

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.errors.clear()
            self.faults.clear()
            self.dropped_requests = 0
            self.dropped_errors = 0


class RequestRejected(Exception):
    """An OTLP request the receiver answers with an error status."""

    def __init__(self, status, reason, detail="", close=False):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.close = close


class OTLPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and Expect: 100-continue, as real collectors do
    server_version = "StitchOTLPReceiver/1"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by BaseHTTPRequestHandler
        if self.server.verbose:
            sys.stderr.write("otlp_receiver: " + (format % args) + "\n")

    @property
    def state(self):
        return self.server.state

    # ---- plumbing ----

    def send_body(self, status, body=b"", content_type="application/x-protobuf", headers=None, close=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def send_json(self, status, value):
        self.send_body(status, json.dumps(value, allow_nan=False).encode(), "application/json")

    def read_body(self, limit):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise RequestRejected(411, "chunked_not_supported", "send Content-Length", close=True)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise RequestRejected(411, "length_required", close=True)
        try:
            length = int(length_text)
        except ValueError:
            raise RequestRejected(400, "bad_content_length", length_text, close=True) from None
        if length < 0:
            raise RequestRejected(400, "bad_content_length", length_text, close=True)
        if length > limit:
            self.discard(length)
            raise RequestRejected(413, "body_too_large", "%d > %d bytes" % (length, limit), close=True)
        body = self.rfile.read(length)
        if len(body) != length:
            raise RequestRejected(400, "short_body", "%d of %d bytes" % (len(body), length), close=True)
        return body

    def discard(self, length):
        """Reads and drops a refused body (up to MAX_DISCARD_BYTES) so the client reads the answer, not a reset."""
        remaining = min(length, MAX_DISCARD_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)

    def drop_connection(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            # Linger 0: the client sees a reset rather than a polite close, like a crashed proxy.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the connection was dropped on purpose, or the client went away

    # ---- routing ----

    def do_GET(self):
        if self.path == "/control/received":
            self.send_json(200, self.state.snapshot())
        elif self.path == "/control/health":
            self.send_body(200, b"ok", "text/plain")
        else:
            self.send_body(404, b"not found", "text/plain")

    def do_POST(self):
        if self.path in SIGNALS:
            self.handle_export()
        elif self.path == "/control/faults":
            self.handle_faults()
        elif self.path == "/control/reset":
            self.read_control_body()
            self.state.reset()
            self.send_json(200, {"ok": True})
        elif self.path == "/control/shutdown":
            self.read_control_body()
            self.send_json(200, {"ok": True})
            self.close_connection = True
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self.read_control_body()
            self.send_body(404, b"not found", "text/plain")

    def read_control_body(self):
        try:
            return self.read_body(MAX_BODY_BYTES)
        except RequestRejected:
            self.close_connection = True  # the unread body would be taken for the next request
            return b""

    def handle_faults(self):
        try:
            body = self.read_body(MAX_BODY_BYTES)
            plan = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(plan, dict) or set(plan) - {"faults"}:
                raise FaultError('expected {"faults": [...]}')
            raw_faults = plan.get("faults", [])
            if not isinstance(raw_faults, list):
                raise FaultError("faults must be a list")
            faults = [parse_fault(f) for f in raw_faults]
            self.state.add_faults(faults)
        except RequestRejected as rejected:
            self.send_json(rejected.status, {"error": rejected.reason})
            return
        except (ValueError, UnicodeDecodeError) as error:
            self.send_json(400, {"error": str(error)})
            return
        self.send_json(200, {"queued": len(faults)})

    # ---- OTLP ----

    def handle_export(self):
        request_type, response_type, rejected_field = SIGNALS[self.path]
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        encoding = headers.get("content-encoding")
        record = {
            "sequence": self.state.next_sequence(),
            "received_at": time.time(),
            "path": self.path,
            "method": self.command,
            "headers": headers,
            "content_encoding": encoding,
        }
        try:
            body = self.read_body(MAX_BODY_BYTES)
            media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media_type != "application/x-protobuf":
                raise RequestRejected(415, "unsupported_content_type", headers.get("content-type", ""))
            record["compressed_size"] = len(body)
            raw = self.inflate(body, encoding)
            record["raw_size"] = len(raw)
            message = request_type()
            try:
                message.ParseFromString(raw)
            except (DecodeError, RuntimeError, ValueError) as error:  # upb raises DecodeError; be generous
                raise RequestRejected(400, "protobuf_decode_failed", str(error)) from None
        except RequestRejected as rejected:
            self.state.record_error(
                dict(record, status=rejected.status, reason=rejected.reason, detail=rejected.detail))
            self.send_body(rejected.status, rejected.reason.encode(), "text/plain", close=rejected.close)
            return

        unknown = unknown_field_paths(message)
        record["unknown_fields"] = unknown["count"]
        record["unknown_field_paths"] = unknown["paths"]
        record["canonical"] = message.SerializeToString(deterministic=True) == raw
        record["decoded"] = ids_to_hex(json_format.MessageToDict(message, preserving_proto_field_name=True))
        self.answer(record, response_type, rejected_field)

    def inflate(self, body, encoding):
        if encoding is None or encoding.strip().lower() in ("", "identity"):
            return body
        if encoding.strip().lower() != "gzip":
            raise RequestRejected(415, "unsupported_content_encoding", encoding)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(body, MAX_BODY_BYTES)
            if inflater.unconsumed_tail:
                raise RequestRejected(413, "inflated_body_too_large", "> %d bytes" % MAX_BODY_BYTES)
            raw += inflater.flush()
        except zlib.error as error:
            raise RequestRejected(400, "bad_gzip", str(error)) from None
        if not inflater.eof:
            raise RequestRejected(400, "bad_gzip", "truncated gzip stream")
        if inflater.unused_data:
            raise RequestRejected(400, "bad_gzip", "data after the gzip stream")
        return raw

    def answer(self, record, response_type, rejected_field):
        fault = self.state.take_fault(self.path)
        record["fault"] = fault
        if fault is not None and fault["delay_ms"] > 0:
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault is not None and fault["drop_connection"]:
            self.state.record_request(dict(record, accepted=False, status=None, dropped=True))
            self.drop_connection()
            return
        status = 200 if fault is None else fault["status"]
        response = response_type()
        if fault is not None and 200 <= status < 300 and (fault["partial_rejected"] or fault["partial_message"]):
            setattr(response.partial_success, rejected_field, fault["partial_rejected"])
            response.partial_success.error_message = fault["partial_message"]
        extra = {}
        if fault is not None and fault["retry_after"] is not None:
            extra["Retry-After"] = fault["retry_after"]
        accepted = 200 <= status < 300
        self.state.record_request(dict(record, accepted=accepted, status=status, dropped=False))
        body = response.SerializeToString() if accepted else b""
        self.send_body(status, body, "application/x-protobuf", extra)


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, verbose):
        super().__init__(address, OTLPHandler)
        self.state = ReceiverState()
        self.verbose = verbose


def watch_stdin(server):
    """Stops the server when stdin reaches EOF, i.e. when the parent process closed its pipe or died."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    server.shutdown()


def main():
    parser = argparse.ArgumentParser(description="Loopback OTLP/HTTP receiver for tests.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--verbose", action="store_true", help="log each HTTP request to stderr")
    args = parser.parse_args()

    server = ReceiverServer(("127.0.0.1", args.port), args.verbose)
    sys.stdout.write("LISTENING %d\n" % server.server_address[1])
    sys.stdout.flush()
    threading.Thread(target=watch_stdin, args=(server,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
