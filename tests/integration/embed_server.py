#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible /v1/embeddings endpoint, for tests.

    embed_server.py PORT_FILE LOG_FILE [SCHEDULE]

Listens on 127.0.0.1 (port 0: the kernel picks; written to PORT_FILE),
logs one line per request to LOG_FILE ("<n> <what> <model> <inputs>
<dimensions asked for, or -> <Authorization header, or ->").
SCHEDULE is a comma-separated list of what the first requests get:
  429      Too Many Requests, with Retry-After: 1
  500      Internal Server Error
  slow     the answer after 5 s (longer than the client's time-out)
  garbage  200 with a body that is not JSON
  short    200 with one vector fewer than inputs
  hold     vectors, but only once the file PORT_FILE.release exists (a
           request in flight for as long as the test wants)
and every later request gets vectors. A model named "bad-model" always gets
400. The vector of a text is deterministic: 8 numbers from its SHA-256,
byte i / 256 - 0.5 (exact in float32), so a test can recompute it.
"""
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file = sys.argv[1], sys.argv[2]
schedule = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else []
lock = threading.Lock()
count = 0


def vector(text):
    h = hashlib.sha256(text.encode()).digest()
    return [h[i] / 256.0 - 0.5 for i in range(8)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        req = json.loads(body)
        inputs = req["input"]
        with lock:
            n = count
            count += 1
        what = schedule[n] if n < len(schedule) else "ok"
        if req.get("model") == "bad-model":
            what = "400"
        with open(log_file, "a") as log:
            log.write("%d %s %s %d %s %s\n" % (n, what, req.get("model"), len(inputs), req.get("dimensions", "-"),
                                                self.headers.get("Authorization", "-")))
        if self.path != "/v1/embeddings":
            return self.reply(404, '{"error": "not found"}')
        if what == "429":
            return self.reply(429, '{"error": "slow down"}', [("Retry-After", "1")])
        if what == "500":
            return self.reply(500, '{"error": "boom"}')
        if what == "400":
            return self.reply(400, '{"error": {"message": "model not found"}}')
        if what == "slow":
            time.sleep(5)
        if what == "hold":
            for _ in range(3000):
                if os.path.exists(port_file + ".release"):
                    break
                time.sleep(0.1)
        if what == "garbage":
            return self.reply(200, '{"data": [ {"embedding": [0.1, ')
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(inputs)]
        if what == "short":
            data = data[:-1]
        try:
            self.reply(200, json.dumps({"object": "list", "data": data, "model": req.get("model")}))
        except (BrokenPipeError, ConnectionResetError):
            pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
