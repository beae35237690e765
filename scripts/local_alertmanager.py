#!/usr/bin/python3
"""Writes a copy of config/alertmanager.yml that delivers to local sinks.

The copy differs from the repository's config only where the world differs:
the secret files' folder, the SMTP smarthost (and no STARTTLS: scripts/sinks.py
has none) and the webhook URL; with --fast, group_wait and group_interval
become 1s so alerts arrive in seconds. Routing, receivers, templates and
inhibition stay the repository's: each rewrite must match exactly the
expected number of lines, or this exits 1 naming the pattern. The templates
are linked next to the copy (alertmanager/templates), as the config's
relative glob expects. Used by scripts/demo.sh and the integration tests.

  local_alertmanager.py SRC DST_DIR --secrets DIR --smtp-port P --webhook-port P [--fast]
writes DST_DIR/alertmanager.yml.
"""

import argparse
import os
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst_dir")
    ap.add_argument("--secrets", required=True)
    ap.add_argument("--smtp-port", required=True)
    ap.add_argument("--webhook-port", required=True)
    ap.add_argument("--fast", action="store_true")
    a = ap.parse_args()
    rewrites = [  # (pattern, replacement, expected number of lines)
        (r"/etc/alertmanager/secrets/", os.path.abspath(a.secrets) + "/", 3),
        (r"(smtp_smarthost:\s*)\S+", r"\g<1>127.0.0.1:" + a.smtp_port, 1),
        (r"(smtp_require_tls:\s*)true", r"\g<1>false", 1),
        (r"(- url:\s*)https://\S+", r"\g<1>http://127.0.0.1:" + a.webhook_port + "/alertmanager", 1),
    ]
    if a.fast:
        rewrites += [(r"(group_wait:\s*)\S+", r"\g<1>1s", 1), (r"(group_interval:\s*)\S+", r"\g<1>1s", 1)]
    out, hits = [], [0] * len(rewrites)
    with open(a.src) as f:
        for line in f:
            if not line.lstrip().startswith("#"):
                for i, (pat, rep, _) in enumerate(rewrites):
                    new = re.sub(pat, rep, line)
                    if new != line:
                        hits[i] += 1
                        line = new
            out.append(line)
    for (pat, _, want), got in zip(rewrites, hits):
        if got != want:
            sys.exit("local_alertmanager.py: pattern %r matched %d lines of %s, want %d" % (pat, got, a.src, want))
    os.makedirs(os.path.join(a.dst_dir, "alertmanager"), exist_ok=True)
    link = os.path.join(a.dst_dir, "alertmanager", "templates")
    if not os.path.lexists(link):
        os.symlink(os.path.join(os.path.dirname(os.path.abspath(a.src)), "alertmanager", "templates"), link)
    with open(os.path.join(a.dst_dir, "alertmanager.yml"), "w") as f:
        f.writelines(out)


if __name__ == "__main__":
    main()
