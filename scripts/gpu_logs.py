"""The stage outputs of a device run (scripts/gpu-check.sh, scripts/gpu-e2e.sh) in OUT: files read or parsed
as JSON (None when missing or unreadable), the stage table, the kernel test's counts and
compute-sanitizer's summaries."""
import json
import os
import re


class RunLogs:
    def __init__(self, out):
        self.out = out

    def read(self, name):
        try:
            with open(os.path.join(self.out, name)) as f:
                return f.read()
        except OSError:
            return None

    def load(self, name):
        t = self.read(name)
        if not t:
            return None
        try:
            return json.loads(t)
        except ValueError:
            return None

    def stages(self):
        """{name: exit status or 'skipped'} from stages.txt."""
        s = {}
        for line in (self.read("stages.txt") or "").splitlines():
            m = re.match(r"(\S+) (rc=(\d+)|skipped)", line)
            if m:
                s[m.group(1)] = int(m.group(3)) if m.group(3) else "skipped"
        return s

    def kernel_test(self, name="kernel_test.log"):
        m = re.search(r"(\d+) checks, (\d+) failures", self.read(name) or "")
        return {"checks": int(m.group(1)), "failures": int(m.group(2))} if m else None

    def memcheck_errors(self, name):
        m = re.search(r"ERROR SUMMARY: (\d+) error", self.read(name) or "")
        return int(m.group(1)) if m else None

    def racecheck(self, name="racecheck.log"):
        """(hazards, errors): racecheck closes with "RACECHECK SUMMARY: N hazards displayed (E errors, W
        warnings)", not memcheck's line."""
        m = re.search(r"RACECHECK SUMMARY: (\d+) hazards displayed \((\d+) errors", self.read(name) or "")
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)
