#!/usr/bin/python3
"""Local notification sinks for Alertmanager tests and demos (stdlib only).

Three servers, all bound to 127.0.0.1, each recording every delivery it
receives as one JSON file in OUT:

  --slack-port P    HTTP; accepts a Slack incoming-webhook POST (any path),
                    answers "ok" like Slack.        -> OUT/slack-NNNN.json
  --webhook-port P  HTTP; accepts Alertmanager's generic webhook POST (any
                    path), answers 200.             -> OUT/webhook-NNNN.json
  --smtp-port P     SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no
                    TLS, no AUTH advertised), so the client must not require
                    TLS (Alertmanager: smtp_require_tls: false).
                                                    -> OUT/email-NNNN.json

Any of the ports may be left out (0 = let the OS pick; the chosen ports are
printed). NNNN counts deliveries per kind from 0001; files are written to a
temporary name and renamed, so a reader never sees a partial file.

File contents:
  slack, webhook: {"kind", "received_at", "path", "headers": {...},
                   "payload": <the request body parsed as JSON>, or
                   "body": <the raw text> when it is not JSON}
  email:          {"kind", "received_at", "peer", "mail_from", "rcpt_tos",
                   "subject", "headers": {...}, "text": <text/plain part>,
                   "html": <text/html part>, "raw": <the whole message>}

When all servers listen it prints one line to stdout and flushes it:
  ready slack=P webhook=P smtp=P
Exits 0 on SIGTERM or SIGINT.

Usage:
  /usr/bin/python3 scripts/sinks.py --dir OUT --slack-port 9811 \\
      --webhook-port 9812 --smtp-port 9825
  then point Alertmanager at http://127.0.0.1:9811/services/T/B/x (Slack
  api_url), http://127.0.0.1:9812/ (webhook url), 127.0.0.1:9825 (smarthost).
"""

import argparse
import email
import email.policy
import http.server
import itertools
import json
import os
import signal
import socketserver
import sys
import threading
import time


class Recorder:
    """Writes one JSON file per delivery; thread-safe."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.lock = threading.Lock()
        self.counters = {}

    def write(self, kind, record):
        record = {"kind": kind, "received_at": time.time(), **record}
        with self.lock:
            counter = self.counters.setdefault(kind, itertools.count(1))
            name = "%s-%04d.json" % (kind, next(counter))
            tmp = os.path.join(self.out_dir, "." + name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=2, ensure_ascii=False)
            os.rename(tmp, os.path.join(self.out_dir, name))


def http_sink(kind, port, recorder, reply):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            record = {"path": self.path, "headers": dict(self.headers.items())}
            try:
                record["payload"] = json.loads(body)
            except ValueError:
                record["body"] = body
            recorder.write(kind, record)
            data = reply.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s: %s\n" % (kind, fmt % args))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def smtp_sink(port, recorder):
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line):
            self.wfile.write((line + "\r\n").encode())
            self.wfile.flush()

        def handle(self):
            self.reply("220 127.0.0.1 cicd-anomaly test SMTP sink")
            mail_from, rcpt_tos = None, []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 127.0.0.1")
                elif verb == "MAIL":
                    mail_from, rcpt_tos = arg.partition(":")[2].strip(), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpt_tos.append(arg.partition(":")[2].strip())
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = self.read_data()
                    if data is None:
                        return
                    self.record(mail_from, rcpt_tos, data)
                    mail_from, rcpt_tos = None, []
                    self.reply("250 OK")
                elif verb == "RSET":
                    mail_from, rcpt_tos = None, []
                    self.reply("250 OK")
                elif verb == "NOOP":
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")

        def read_data(self):
            lines = []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return None
                if raw in (b".\r\n", b".\n"):
                    return b"".join(lines)
                if raw.startswith(b"."):
                    raw = raw[1:]  # dot-unstuffing (RFC 5321 4.5.2)
                lines.append(raw)

        def record(self, mail_from, rcpt_tos, data):
            msg = email.message_from_bytes(data, policy=email.policy.default)
            record = {
                "peer": "%s:%d" % self.client_address[:2],
                "mail_from": mail_from,
                "rcpt_tos": rcpt_tos,
                "subject": str(msg.get("Subject", "")),
                "headers": {k: str(v) for k, v in msg.items()},
            }
            for subtype in ("plain", "html"):
                part = msg.get_body(preferencelist=(subtype,))
                if part is not None and part.get_content_subtype() == subtype:
                    record["text" if subtype == "plain" else "html"] = part.get_content()
            record["raw"] = data.decode("utf-8", "replace")
            recorder.write("email", record)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler, bind_and_activate=False)
    server.daemon_threads = True
    server.allow_reuse_address = True
    server.server_bind()
    server.server_activate()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="folder for the recorded deliveries")
    parser.add_argument("--slack-port", type=int, help="Slack webhook sink port (0: any)")
    parser.add_argument("--webhook-port", type=int, help="generic webhook sink port (0: any)")
    parser.add_argument("--smtp-port", type=int, help="SMTP sink port (0: any)")
    args = parser.parse_args()
    if args.slack_port is None and args.webhook_port is None and args.smtp_port is None:
        parser.error("give at least one of --slack-port, --webhook-port, --smtp-port")
    os.makedirs(args.dir, exist_ok=True)
    recorder = Recorder(args.dir)

    servers = {}
    if args.slack_port is not None:
        servers["slack"] = http_sink("slack", args.slack_port, recorder, "ok")
    if args.webhook_port is not None:
        servers["webhook"] = http_sink("webhook", args.webhook_port, recorder, "")
    if args.smtp_port is not None:
        servers["smtp"] = smtp_sink(args.smtp_port, recorder)

    threads = []
    for server in servers.values():
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        threads.append(thread)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready " + " ".join("%s=%d" % (k, s.server_address[1]) for k, s in servers.items()), flush=True)
    while not stop.wait(0.5):
        pass
    for server in servers.values():
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
