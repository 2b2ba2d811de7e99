import Testing

@testable import RouteSpec

/// One decoder diagnostic: the smallest route file that triggers it, what it must say and where,
/// and the corrected file that must decode cleanly.
struct DecoderCase: Sendable, CustomTestStringConvertible {
  var code: DiagnosticCode
  var message: String
  /// 1-based `line:column` of the primary span's start.
  var position: String
  /// The exact help, when the case checks it.
  var help: String?
  var toml: String
  var valid: String

  init(
    _ code: DiagnosticCode, _ message: String, at position: String, help: String?, toml: String, valid: String
  ) {
    self.code = code
    self.message = message
    self.position = position
    self.help = help
    self.toml = toml
    self.valid = valid
  }

  var testDescription: String { "\(code.rawValue) \(message)" }
}

@Suite struct RouteDecoderDiagnosticTests {
  static let cases: [DecoderCase] = [
    DecoderCase(
      .unknownKey, "unknown key 'listn' in [server]", at: "2:1", help: "did you mean 'listen'?",
      toml: """
        [server]
        listn = "127.0.0.1:8080"
        """,
      valid: """
        [server]
        listen = "127.0.0.1:8080"
        """),
    DecoderCase(
      .unknownKey, "unknown key 'serer' in the top level", at: "1:2", help: "did you mean 'server'?",
      toml: """
        [serer]
        listen = "127.0.0.1:8080"
        """,
      valid: """
        [server]
        listen = "127.0.0.1:8080"
        """),
    DecoderCase(
      .unknownKey, "unknown key 'route' in the top level", at: "1:3", help: "did you mean 'routes'?",
      toml: """
        [[route]]
        name = "r"
        """,
      valid: """
        [[routes]]
        name = "r"
        """),
    DecoderCase(
      .unknownKey, "unknown key 'colour' in the top level", at: "1:1",
      help: "known keys: version, server, backends, clients, routes, tests",
      toml: """
        colour = "blue"
        """,
      valid: """
        version = 1
        """),
    DecoderCase(
      .unknownKey, "unknown key 'timout' in [backends.a]", at: "3:1", help: "did you mean 'timeout'?",
      toml: """
        [backends.a]
        protocol = "echo"
        timout = "5s"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        timeout = "5s"
        """),
    DecoderCase(
      .unknownKey, "unknown key 'key' in [clients.ci]", at: "2:1", help: "did you mean 'keys'?",
      toml: """
        [clients.ci]
        key = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]
        """,
      valid: """
        [clients.ci]
        keys = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]
        """),
    DecoderCase(
      .unknownKey, "unknown key 'modle' in match", at: "2:11", help: "did you mean 'model'?",
      toml: """
        [[routes]]
        match = { modle = "gemini-*" }
        """,
      valid: """
        [[routes]]
        match = { model = "gemini-*" }
        """),
    DecoderCase(
      .unknownKey, "unknown key 'mxa' in generation.temperature", at: "2:32", help: "did you mean 'max'?",
      toml: """
        [[routes]]
        generation = { temperature = { mxa = 1 } }
        """,
      valid: """
        [[routes]]
        generation = { temperature = { max = 1 } }
        """),
    DecoderCase(
      .unknownKey, "unknown key 'rout' in expect", at: "3:12", help: "did you mean 'route'?",
      toml: """
        [[tests]]
        request = { model = "m" }
        expect = { rout = "r" }
        """,
      valid: """
        [[tests]]
        request = { model = "m" }
        expect = { route = "r" }
        """),
    DecoderCase(
      .wrongType, "expected a string for 'url' in [backends.a], found integer", at: "3:7", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        url = 5
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        url = "http://127.0.0.1:9000"
        """),
    DecoderCase(
      .wrongType, "expected a table for 'server' in the top level, found integer", at: "1:10", help: nil,
      toml: """
        server = 1
        """,
      valid: """
        server = { listen = "127.0.0.1:8080" }
        """),
    DecoderCase(
      .wrongType, "expected a table for 'server' in the top level, found array", at: "1:1", help: nil,
      toml: """
        [[server]]
        listen = "127.0.0.1:8080"
        """,
      valid: """
        [server]
        listen = "127.0.0.1:8080"
        """),
    DecoderCase(
      .wrongType, "expected [[routes]] (an array of tables), found string", at: "1:10",
      help: "write each element as [[routes]]",
      toml: """
        routes = "r"
        """,
      valid: """
        [[routes]]
        name = "r"
        """),
    DecoderCase(
      .wrongType, "expected [[routes]] (an array of tables), found table", at: "1:1",
      help: "write each element as [[routes]]",
      toml: """
        [routes]
        name = "r"
        """,
      valid: """
        [[routes]]
        name = "r"
        """),
    DecoderCase(
      .wrongType, "expected a table for [backends.protocol], found string", at: "2:12",
      help: "write it as a table: [backends.protocol]",
      toml: """
        [backends]
        protocol = "echo"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        """),
    DecoderCase(
      .wrongType, "expected true or false for 'stream' in match, found string", at: "2:20", help: nil,
      toml: """
        [[routes]]
        match = { stream = "yes" }
        """,
      valid: """
        [[routes]]
        match = { stream = true }
        """),
    DecoderCase(
      .wrongType, "expected a list of strings for 'client' in match, found integer", at: "2:26", help: nil,
      toml: """
        [[routes]]
        match = { client = ["a", 1] }
        """,
      valid: """
        [[routes]]
        match = { client = ["a", "b"], model = "m", key_prefix = ["gm_"], endpoint = "generate" }
        """),
    DecoderCase(
      .wrongType, "expected an integer for 'max' in generation.max_output_tokens, found float", at: "2:44",
      help: "this parameter counts tokens or candidates: write a whole number",
      toml: """
        [[routes]]
        generation = { max_output_tokens = { max = 40.5 } }
        """,
      valid: """
        [[routes]]
        generation = { max_output_tokens = { max = 40 } }
        """),
    DecoderCase(
      .wrongType, "expected a table for 'system_prompt' in [[routes]], found string", at: "2:17", help: nil,
      toml: """
        [[routes]]
        system_prompt = "Be brief."
        """,
      valid: """
        [[routes]]
        system_prompt = { append = "Be brief." }
        """),
    DecoderCase(
      .invalidValue, "invalid protocol 'opnai'", at: "2:12",
      help: "did you mean 'openai'? use one of: openai, gemini, echo",
      toml: """
        [backends.a]
        protocol = "opnai"
        """,
      valid: """
        [backends.a]
        protocol = "openai"
        """),
    DecoderCase(
      .invalidValue, "invalid flavor 'azur'", at: "3:10", help: "did you mean 'azure'? use one of: openai, azure",
      toml: """
        [backends.openai]
        protocol = "openai"
        flavor = "azur"
        """,
      valid: """
        [backends.openai]
        protocol = "openai"
        flavor = "azure"
        """),
    DecoderCase(
      .invalidValue, "invalid auth 'requird'", at: "2:8", help: "did you mean 'required'? use one of: required, none",
      toml: """
        [server]
        auth = "requird"
        """,
      valid: """
        [server]
        auth = "none"
        """),
    DecoderCase(
      .invalidValue, "invalid auth 'optional'", at: "2:8", help: "use one of: required, none",
      toml: """
        [server]
        auth = "optional"
        """,
      valid: """
        [server]
        auth = "required"
        """),
    DecoderCase(
      .invalidValue, "invalid endpoint 'strem'", at: "2:22",
      help: "did you mean 'stream'? use one of: generate, stream, count_tokens, embed, list_models",
      toml: """
        [[routes]]
        match = { endpoint = "strem" }
        """,
      valid: """
        [[routes]]
        match = { endpoint = ["stream", "count_tokens"] }
        """),
    DecoderCase(
      .invalidValue, "invalid fallback_on 'conect'", at: "2:16",
      help: "did you mean 'connect'? use one of: connect, timeout, 429, 5xx, context_length",
      toml: """
        [[routes]]
        fallback_on = ["conect", "429"]
        """,
      valid: """
        [[routes]]
        fallback_on = ["connect", "429"]
        """),
    DecoderCase(
      .invalidValue, "invalid system_prompt mode 'prepnd'", at: "2:19",
      help: "did you mean 'prepend'? use one of: prepend, append, replace",
      toml: """
        [[routes]]
        system_prompt = { prepnd = "Be brief." }
        """,
      valid: """
        [[routes]]
        system_prompt = { prepend = "Be brief." }
        """),
    DecoderCase(
      .invalidValue, "system_prompt takes one of prepend, append or replace", at: "2:43", help: nil,
      toml: """
        [[routes]]
        system_prompt = { prepend = "a", append = "b" }
        """,
      valid: """
        [[routes]]
        system_prompt = { replace = "a" }
        """),
    DecoderCase(
      .invalidValue, "invalid generation parameter 'temprature'", at: "2:16",
      help:
        "did you mean 'temperature'? use one of: temperature, top_p, top_k, max_output_tokens, candidate_count, presence_penalty, frequency_penalty",
      toml: """
        [[routes]]
        generation = { temprature = 0.5 }
        """,
      valid: """
        [[routes]]
        generation = { temperature = 0.5 }
        """),
    DecoderCase(
      .invalidValue, "unterminated '${' in '${OPENAI_API_KEY'", at: "3:11",
      help: "write ${NAME}, or ${NAME:-default} for an optional variable",
      toml: """
        [backends.openai]
        protocol = "openai"
        api_key = "${OPENAI_API_KEY"
        """,
      valid: """
        [backends.openai]
        protocol = "openai"
        api_key = "${OPENAI_API_KEY}"
        """),
    DecoderCase(
      .invalidValue, "invalid environment variable name '1KEY'", at: "3:11", help: nil,
      toml: """
        [backends.openai]
        protocol = "openai"
        api_key = "${1KEY}"
        """,
      valid: """
        [backends.openai]
        protocol = "openai"
        api_key = "${KEY1}"
        """),
    DecoderCase(
      .invalidValue, "invalid route-file version 0", at: "1:11", help: "write version = 1",
      toml: """
        version = 0
        """,
      valid: """
        version = 1
        """),
    DecoderCase(
      .invalidValue, "'keys' holds sha256 digests, not environment variables", at: "2:9",
      help: "read the key from the environment with key_env = [\"CI_KEY\"]",
      toml: """
        [clients.ci]
        keys = ["${CI_KEY}"]
        """,
      valid: """
        [clients.ci]
        key_env = ["CI_KEY"]
        """),
    DecoderCase(
      .invalidValue, "malformed key digest", at: "2:9",
      help:
        "write the hex digits in lowercase: \"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"",
      toml: """
        [clients.ci]
        keys = ["sha256:5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8"]
        """,
      valid: """
        [clients.ci]
        keys = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        """),
    DecoderCase(
      .invalidValue, "invalid environment variable name '1X'", at: "2:12", help: nil,
      toml: """
        [clients.ci]
        key_env = ["1X"]
        """,
      valid: """
        [clients.ci]
        key_env = "X1"
        """),
    DecoderCase(
      .missingField, "backend 'demo' has no protocol", at: "1:11",
      help: "add protocol = \"openai\", \"gemini\" or \"echo\"",
      toml: """
        [backends.demo]
        url = "https://x.test"
        """,
      valid: """
        [backends.demo]
        protocol = "gemini"
        url = "https://x.test"
        """),
    DecoderCase(
      .missingField, "[[tests]] has no 'request'", at: "1:1", help: nil,
      toml: """
        [[tests]]
        expect = { route = "r" }
        """,
      valid: """
        [[tests]]
        request = { model = "m" }
        expect = { route = "r" }
        """),
    DecoderCase(
      .missingField, "[[tests]] has no 'expect'", at: "1:1", help: nil,
      toml: """
        [[tests]]
        name = "t"
        request = { model = "m" }
        """,
      valid: """
        [[tests]]
        name = "t"
        request = { model = "m" }
        expect = { deny = true }
        """),
    DecoderCase(
      .invalidDuration, "expected a duration string for 'timeout', found integer", at: "3:11",
      help: "write a number and a unit: \"250ms\", \"5s\", \"2m\", \"1h\" (or combined, \"1m30s\")",
      toml: """
        [backends.a]
        protocol = "echo"
        timeout = 5
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        timeout = "5s"
        """),
    DecoderCase(
      .invalidDuration, "invalid duration '5 s' for 'timeout'", at: "3:11", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        timeout = "5 s"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        timeout = "1m30s"
        """),
    DecoderCase(
      .invalidDuration, "invalid duration '5sec' for 'connect_timeout'", at: "3:19", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        connect_timeout = "5sec"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        connect_timeout = "250ms"
        """),
    DecoderCase(
      .invalidDuration, "invalid duration '1.5s' for 'stream_idle_timeout'", at: "3:23", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        stream_idle_timeout = "1.5s"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        stream_idle_timeout = "1500ms"
        """),
    DecoderCase(
      .invalidSize, "invalid size '20MB' for 'max_request_body'", at: "2:20",
      help: "louter sizes use binary units: write \"20MiB\"",
      toml: """
        [server]
        max_request_body = "20MB"
        """,
      valid: """
        [server]
        max_request_body = "20MiB"
        """),
    DecoderCase(
      .invalidSize, "invalid size 'lots' for 'max_request_body'", at: "2:20",
      help: "write a number and a binary unit: \"512KiB\", \"20MiB\", \"1GiB\" (or a plain integer of bytes)",
      toml: """
        [server]
        max_request_body = "lots"
        """,
      valid: """
        [server]
        max_request_body = "512KiB"
        """),
    DecoderCase(
      .invalidSize, "invalid size -1 for 'max_request_body'", at: "2:20", help: nil,
      toml: """
        [server]
        max_request_body = -1
        """,
      valid: """
        [server]
        max_request_body = 1048576
        """),
    DecoderCase(
      .invalidSize, "expected a size for 'max_request_body', found boolean", at: "2:20", help: nil,
      toml: """
        [server]
        max_request_body = true
        """,
      valid: """
        [server]
        max_request_body = "100B"
        """),
    DecoderCase(
      .invalidURL, "invalid url 'api.openai.com/v1'", at: "3:7",
      help: "write the full base URL, e.g. \"https://api.openai.com/v1\"",
      toml: """
        [backends.a]
        protocol = "echo"
        url = "api.openai.com/v1"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        url = "https://api.openai.com/v1"
        """),
    DecoderCase(
      .invalidURL, "invalid url 'ftp://files.test/v1'", at: "3:7", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        url = "ftp://files.test/v1"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        url = "http://files.test/v1"
        """),
    DecoderCase(
      .invalidURL, "invalid url 'https:///v1'", at: "3:7", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        url = "https:///v1"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        url = "https://[::1]:8443/v1"
        """),
    DecoderCase(
      .invalidURL, "invalid url 'http://localhost:port/v1'", at: "3:7", help: nil,
      toml: """
        [backends.a]
        protocol = "echo"
        url = "http://localhost:port/v1"
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        url = "http://localhost:8000/v1"
        """),
    DecoderCase(
      .invalidGlob, "invalid model pattern 'gemini-[12].5'", at: "2:19",
      help: "use exact names or '*' wildcards, e.g. \"gemini-2.5-*\"; list alternatives: [\"a*\", \"b*\"]",
      toml: """
        [[routes]]
        match = { model = "gemini-[12].5" }
        """,
      valid: """
        [[routes]]
        match = { model = ["gemini-1.5", "gemini-2.5"] }
        """),
    DecoderCase(
      .invalidGlob, "invalid model pattern 'gpt-4o?'", at: "2:32", help: nil,
      toml: """
        [[routes]]
        match = { model = ["gemini-*", "gpt-4o?"] }
        """,
      valid: """
        [[routes]]
        match = { model = ["gemini-*", "gpt-4o*"] }
        """),
    DecoderCase(
      .invalidGlob, "invalid model pattern 'gemini 2.5'", at: "2:19", help: nil,
      toml: """
        [[routes]]
        match = { model = "gemini 2.5" }
        """,
      valid: """
        [[routes]]
        match = { model = "gemini-2.5" }
        """),
    DecoderCase(
      .invalidGlob, "invalid model pattern '{gpt,gemini}-*'", at: "2:19", help: nil,
      toml: """
        [[routes]]
        match = { model = "{gpt,gemini}-*" }
        """,
      valid: """
        [[routes]]
        match = { model = ["gpt-*", "gemini-*"] }
        """),
    DecoderCase(
      .unsupportedVersion, "unsupported route-file version 2", at: "1:11", help: "write version = 1, or upgrade louter",
      toml: """
        version = 2
        """,
      valid: """
        version = 1
        """),
    DecoderCase(
      .invalidAddress, "invalid listen address 'localhost'", at: "2:10",
      help: "write it as \"127.0.0.1:8080\", or \"[::1]:8080\" for IPv6",
      toml: """
        [server]
        listen = "localhost"
        """,
      valid: """
        [server]
        listen = "localhost:8080"
        """),
    DecoderCase(
      .invalidAddress, "invalid listen address '127.0.0.1:99999'", at: "2:10", help: nil,
      toml: """
        [server]
        listen = "127.0.0.1:99999"
        """,
      valid: """
        [server]
        listen = "127.0.0.1:0"
        """),
    DecoderCase(
      .invalidAddress, "invalid listen address '::1:8080'", at: "2:10", help: nil,
      toml: """
        [server]
        listen = "::1:8080"
        """,
      valid: """
        [server]
        listen = "[::1]:8080"
        """),
    DecoderCase(
      .plainTextKey, "plain-text key in a route file", at: "2:9",
      help: "write the key's hash instead: \"sha256:8ef1092ab118d69c21654f5ac3c67453fab570f4c49ced6eff69b441208115ac\"",
      toml: """
        [clients.ci]
        keys = ["gm_live_secret_key"]
        """,
      valid: """
        [clients.ci]
        keys = ["sha256:8ef1092ab118d69c21654f5ac3c67453fab570f4c49ced6eff69b441208115ac"]
        """),
    DecoderCase(
      .plainTextKey, "plain-text key in a route file", at: "3:11",
      help: "read it from the environment: api_key = \"${MY_AZURE_API_KEY}\"",
      toml: """
        [backends.my-azure]
        protocol = "openai"
        api_key = "sk-proj-abc123"
        """,
      valid: """
        [backends.my-azure]
        protocol = "openai"
        api_key = "${MY_AZURE_API_KEY}"
        """),
    DecoderCase(
      .invalidHeaderName, "invalid header name 'x team'", at: "2:22",
      help: "use letters, digits and - (e.g. \"x-team\")",
      toml: """
        [[routes]]
        match = { header = { "x team" = "a" } }
        """,
      valid: """
        [[routes]]
        match = { header = { "X-Team" = "a" } }
        """),
    DecoderCase(
      .invalidHeaderName, "invalid header name 'Bad:Header'", at: "3:13", help: nil,
      toml: """
        [backends.openai]
        protocol = "openai"
        headers = { "Bad:Header" = "v" }
        """,
      valid: """
        [backends.openai]
        protocol = "openai"
        headers = { "OpenAI-Organization" = "org-1" }
        """),
    DecoderCase(
      .invalidHeaderName, "invalid header name 'xé'", at: "2:25", help: nil,
      toml: """
        [[tests]]
        request = { headers = { "xé" = "1" } }
        expect = { deny = true }
        """,
      valid: """
        [[tests]]
        request = { headers = { x-team = "1" } }
        expect = { deny = true }
        """),
    DecoderCase(
      .emptyValue, "'name' in [[routes]] must not be empty", at: "2:8", help: nil,
      toml: """
        [[routes]]
        name = ""
        """,
      valid: """
        [[routes]]
        name = "r"
        """),
    DecoderCase(
      .emptyValue, "'model' in [[routes]] must not be empty", at: "2:9", help: nil,
      toml: """
        [[routes]]
        model = ""
        """,
      valid: """
        [[routes]]
        model = "gpt-4o"
        """),
    DecoderCase(
      .emptyValue, "'key_prefix' in match must not be empty", at: "2:24", help: nil,
      toml: """
        [[routes]]
        match = { key_prefix = "" }
        """,
      valid: """
        [[routes]]
        match = { key_prefix = "gm_" }
        """),
    DecoderCase(
      .emptyValue, "'model' in match must not be empty", at: "2:19", help: nil,
      toml: """
        [[routes]]
        match = { model = "" }
        """,
      valid: """
        [[routes]]
        match = { model = "*" }
        """),
    DecoderCase(
      .emptyValue, "'client' in match must not be an empty list", at: "2:20",
      help: "leave 'client' out to accept any value, or list at least one",
      toml: """
        [[routes]]
        match = { client = [] }
        """,
      valid: """
        [[routes]]
        match = { client = "*" }
        """),
    DecoderCase(
      .emptyValue, "'backends' in [[routes]] holds an empty string", at: "2:18", help: nil,
      toml: """
        [[routes]]
        backends = ["a", ""]
        """,
      valid: """
        [[routes]]
        backends = []
        """),
    DecoderCase(
      .emptyValue, "'request_log' in [server] must not be empty", at: "2:15", help: nil,
      toml: """
        [server]
        request_log = ""
        """,
      valid: """
        [server]
        request_log = "off"
        """),
    DecoderCase(
      .emptyValue, "'protocol' in [backends.a] must not be empty", at: "2:12", help: nil,
      toml: """
        [backends.a]
        protocol = ""
        """,
      valid: """
        [backends.a]
        protocol = "echo"
        """),
    DecoderCase(
      .emptyValue, "the NAME in [backends.NAME] must not be empty", at: "1:11", help: "name it, e.g. [backends.main]",
      toml: """
        [backends.""]
        protocol = "echo"
        """,
      valid: """
        [backends.main]
        protocol = "echo"
        """),
    DecoderCase(
      .invalidValue, "malformed key digest", at: "2:9", help: "paste the line `louter keygen` prints",
      toml: """
        [clients.ci]
        keys = ["SHA256:abc"]
        """,
      valid: """
        [clients.ci]
        keys = []
        """),
    DecoderCase(
      .emptyValue, "'append' in system_prompt must not be empty", at: "2:28",
      help: "write the text to append, or remove system_prompt",
      toml: """
        [[routes]]
        system_prompt = { append = "" }
        """,
      valid: """
        [[routes]]
        system_prompt = { replace = "" }
        """),
  ]

  @Test(arguments: cases)
  func reportsTheErrorAtItsSpan(_ testCase: DecoderCase) {
    let outcome = RouteDecoderHarness.decode(testCase.toml)
    // Exactly one: a minimal input must not drag in unrelated errors.
    #expect(outcome.diagnostics.count == 1, "\(outcome.summary)")
    let diagnostic = outcome.diagnostics.first
    #expect(diagnostic?.code == testCase.code)
    #expect(diagnostic?.message == testCase.message)
    #expect(diagnostic?.severity == .error)
    #expect(outcome.position(diagnostic) == testCase.position)
    if let help = testCase.help {
      #expect(diagnostic?.help == help)
    }
  }

  @Test(arguments: cases)
  func theCorrectedFileDecodesCleanly(_ testCase: DecoderCase) {
    let outcome = RouteDecoderHarness.decode(testCase.valid)
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
  }

  /// Every code of the route-file model that the decoder (not the compiler) owns has a case.
  @Test func everyDecoderCodeHasACase() {
    let decoderCodes: Set<DiagnosticCode> = [
      .unknownKey, .wrongType, .invalidValue, .missingField, .invalidDuration, .invalidSize, .invalidURL,
      .invalidGlob, .unsupportedVersion, .invalidAddress, .plainTextKey, .invalidHeaderName, .emptyValue,
    ]
    #expect(decoderCodes.subtracting(Self.cases.map(\.code)).isEmpty)
  }
}
