"""`louter schema` validates what the decoder accepts and rejects what it rejects.

The schema is generated from the same key tables the decoder's unknown-key check uses; these tests
read route files with Python's own TOML reader and validate them with the `jsonschema` package, as
an editor (taplo, Even Better TOML) would.
"""
import json
import pathlib
import subprocess
import tomllib

import jsonschema
import pytest

from conftest import LOUTER, ROOT


@pytest.fixture(scope="module")
def validator():
    output = subprocess.run([LOUTER, "schema"], check=True, capture_output=True, text=True).stdout
    schema = json.loads(output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


ROUTE_FILES = sorted((ROOT / "routes").glob("*.toml"))


def test_the_repository_routes_exist():
    assert ROUTE_FILES


@pytest.mark.parametrize("path", ROUTE_FILES, ids=lambda path: path.name)
def test_repository_route_files_validate(validator, path):
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == []


# (code, broken, corrected): taken from Tests/RouteSpecTests/RouteDecoderDiagnosticTests.swift.
CASES = [
    ("L0201", '[server]\nlistn = "127.0.0.1:8080"\n', '[server]\nlisten = "127.0.0.1:8080"\n'),
    ("L0201", '[serer]\nlisten = "127.0.0.1:8080"\n', '[server]\nlisten = "127.0.0.1:8080"\n'),
    ("L0201", '[[route]]\nname = "r"\n', '[[routes]]\nname = "r"\n'),
    ("L0201", 'colour = "blue"\n', "version = 1\n"),
    ("L0201", '[backends.a]\nprotocol = "echo"\ntimout = "5s"\n', '[backends.a]\nprotocol = "echo"\ntimeout = "5s"\n'),
    ("L0201", '[clients.ci]\nkey = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]\n',
     '[clients.ci]\nkeys = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]\n'),
    ("L0201", '[[routes]]\nmatch = { modle = "gemini-*" }\n', '[[routes]]\nmatch = { model = "gemini-*" }\n'),
    ("L0201", "[[routes]]\ngeneration = { temperature = { mxa = 1 } }\n",
     "[[routes]]\ngeneration = { temperature = { max = 1 } }\n"),
    ("L0201", '[[tests]]\nrequest = { model = "m" }\nexpect = { rout = "r" }\n',
     '[[tests]]\nrequest = { model = "m" }\nexpect = { route = "r" }\n'),
    ("L0202", '[backends.a]\nprotocol = "echo"\nurl = 5\n', '[backends.a]\nprotocol = "echo"\n'),
    ("L0202", '[[routes]]\nmatch = { stream = "yes" }\n', "[[routes]]\nmatch = { stream = true }\n"),
    ("L0202", '[[routes]]\nmatch = { client = ["a", 1] }\n', '[[routes]]\nmatch = { client = ["a", "b"] }\n'),
    ("L0202", "[[routes]]\ngeneration = { max_output_tokens = { max = 40.5 } }\n",
     "[[routes]]\ngeneration = { max_output_tokens = { max = 40 } }\n"),
    ("L0202", '[[routes]]\nsystem_prompt = "Be brief."\n', '[[routes]]\nsystem_prompt = { append = "Be brief." }\n'),
    ("L0206", '[backends.a]\nprotocol = "opnai"\n', '[backends.a]\nprotocol = "openai"\n'),
    ("L0206", '[[routes]]\nmatch = { endpoint = "strem" }\n',
     '[[routes]]\nmatch = { endpoint = ["stream", "count_tokens"] }\n'),
    ("L0206", '[[routes]]\nfallback_on = ["conect", "429"]\n', '[[routes]]\nfallback_on = ["connect", "429"]\n'),
    ("L0206", '[[routes]]\nsystem_prompt = { prepnd = "Be brief." }\n',
     '[[routes]]\nsystem_prompt = { prepend = "Be brief." }\n'),
    ("L0206", '[[routes]]\nsystem_prompt = { prepend = "a", append = "b" }\n',
     '[[routes]]\nsystem_prompt = { replace = "a" }\n'),
    ("L0206", "[[routes]]\ngeneration = { temprature = 0.5 }\n", "[[routes]]\ngeneration = { temperature = 0.5 }\n"),
    ("L0201", '[clients.ci]\nlimits = { requests_per_minit = 60 }\n', '[clients.ci]\nlimits = { requests_per_minute = 60 }\n'),
    ("L0206", '[clients.ci]\nlimits = { concurrent_streams = 0 }\n', '[clients.ci]\nlimits = { concurrent_streams = 1 }\n'),
    ("L0202", '[clients.ci]\nlimits = { requests_per_day = "100" }\n', '[clients.ci]\nlimits = { requests_per_day = 100 }\n'),
    ("L0201", '[[routes]]\nretry = { attemps = 1 }\n', '[[routes]]\nretry = { attempts = 1 }\n'),
    ("L0206", '[[routes]]\nretry = { on = ["4xx"] }\n', '[[routes]]\nretry = { on = ["5xx"] }\n'),
    ("L0202", '[[routes]]\ncontinue_on_break = "yes"\n', '[[routes]]\ncontinue_on_break = false\n'),
    ("L0201", '[[routes]]\nbackends = [{ member = ["a"] }]\n', '[[routes]]\nbackends = [{ members = ["a"] }]\n'),
    ("L0206", '[[routes]]\nbackends = [{ members = { a = "x" } }]\n', '[[routes]]\nbackends = [{ members = { a = 3 } }]\n'),
    ("L0206", '[[routes]]\nbackends = [{ balance = "random", members = ["a"] }]\n',
     '[[routes]]\nbackends = [{ balance = "least_in_flight", members = ["a"] }]\n'),
    (None, '[backends.a]\nprotocol = "echo"\ntimeout = "5 s"\n', '[backends.a]\nprotocol = "echo"\ntimeout = "1m30s"\n'),
    (None, '[server]\nmax_request_body = "20MB"\n', '[server]\nmax_request_body = "20MiB"\n'),
]


def ids(case):
    return case[1].splitlines()[-1]


@pytest.mark.parametrize("case", CASES, ids=[ids(case) for case in CASES])
def test_broken_route_files_are_rejected_and_corrected_ones_accepted(validator, case, tmp_path):
    code, broken, corrected = case
    assert list(validator.iter_errors(tomllib.loads(broken))), f"the schema accepts:\n{broken}"
    assert not list(validator.iter_errors(tomllib.loads(corrected))), f"the schema rejects:\n{corrected}"
    # The decoder rejects the same file, with the code the decoder tests expect.
    path = tmp_path / "broken.toml"
    path.write_text(broken)
    result = subprocess.run([LOUTER, "check", "--format", "json", str(path)], capture_output=True, text=True)
    assert result.returncode == 1
    codes = [json.loads(line).get("code") for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(found and found.startswith("L02") for found in codes), result.stdout
    if code:
        assert code in codes, result.stdout
