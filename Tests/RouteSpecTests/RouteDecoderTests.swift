import Testing

@testable import RouteSpec

@Suite struct RouteDecoderTests {
  func decode(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> RouteDecoderHarness.Outcome
  {
    RouteDecoderHarness.decode(text, sourceLocation: sourceLocation)
  }

  /// The blocks of route-language.md, copied as written there, comments included.
  @Test func decodesTheRouteLanguageExamples() throws {
    let outcome = decode(
      """
      version = 1

      [server]
      listen = "127.0.0.1:8080"      # host:port; [::1]:8080 for IPv6
      auth = "required"             # required | none ; default: required when [clients] exist, else none
      max_request_body = "20MiB"    # 413 above it
      request_log = "stdout"        # stdout | off | a file path (JSON lines)

      [backends.openai]
      protocol = "openai"                  # openai | gemini | echo
      url = "https://api.openai.com/v1"    # for openai: the base that /chat/completions is appended to
      api_key = "${OPENAI_API_KEY}"        # ${VAR} is read from the environment at serve time
      flavor = "azure"                     # optional, openai only: api-key header, /openai/deployments/{model}/...
      api_version = "2024-10-21"           # azure only
      headers = { "OpenAI-Organization" = "org-1" }
      connect_timeout = "5s"
      first_byte_timeout = "60s"           # no response head/first byte in time -> next backend in the chain
      stream_idle_timeout = "30s"          # longest gap between two chunks of a stream
      timeout = "10m"                      # whole request
      max_concurrency = 256                # in-flight requests; beyond it the backend counts as busy -> next backend
      forward_key = false                  # true: send the caller's own key upstream instead of api_key

      [clients.ci-bot]
      keys = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]
      key_env = ["CI_BOT_KEY"]             # or: the key itself comes from the environment

      [[routes]]
      name = "team-a-pro"
      match = { client = ["team-a"], model = "gemini-2.5-pro*", key_prefix = "gm_" }
      system_prompt = { prepend = "Answer in English." }   # or append = / replace =
      model = "gpt-4o"                                     # rewrite the model name
      backends = ["openai", "azure", "local"]              # the chain: fallback in order
      fallback_on = ["connect", "timeout", "429", "5xx"]   # default: all four
      generation = { max_output_tokens = { max = 4096 }, temperature = { default = 0.2 } }

      [[routes]]
      name = "deny-others"
      match = { model = "gemini-2.5-pro*" }
      deny = "this model is reserved for team-a"           # 403 in the front's error shape

      [[routes]]
      name = "default"
      backends = ["local", "demo"]                         # no match table: matches everything

      [[tests]]
      name = "team-a pro goes to openai"
      request = { client = "team-a", model = "gemini-2.5-pro", key = "gm_..." }
      expect = { route = "team-a-pro", model = "gpt-4o", backends = ["openai", "azure", "local"] }

      [[tests]]
      request = { model = "gemini-2.5-pro-exp" }
      expect = { deny = true }
      """)
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    let syntax = outcome.syntax
    #expect(syntax.version?.value == 1)

    let server = try #require(syntax.server)
    #expect(server.listen?.value == ListenAddress(host: "127.0.0.1", port: 8080))
    #expect(server.auth?.value == .required)
    #expect(server.maxRequestBody?.value == 20 * 1024 * 1024)
    #expect(server.requestLog?.value == .stdout)
    #expect(outcome.text(server.listen?.span) == "\"127.0.0.1:8080\"")

    #expect(syntax.backends.count == 1)
    let backend = try #require(syntax.backends.first)
    #expect(backend.name.value == "openai")
    #expect(outcome.text(backend.name.span) == "openai")
    #expect(backend.protocolName?.value == .openai)
    #expect(backend.url?.value == "https://api.openai.com/v1")
    #expect(backend.apiKey?.value == TemplateString(segments: [.variable("OPENAI_API_KEY")]))
    #expect(backend.flavor?.value == .azure)
    #expect(backend.apiVersion?.value == "2024-10-21")
    #expect(backend.headers.map(\.name.value) == ["openai-organization"])
    #expect(backend.headers.first?.value.value == TemplateString(segments: [.literal("org-1")]))
    #expect(backend.connectTimeout?.value == DurationValue(milliseconds: 5000))
    #expect(backend.firstByteTimeout?.value == DurationValue(milliseconds: 60_000))
    #expect(backend.streamIdleTimeout?.value == DurationValue(milliseconds: 30_000))
    #expect(backend.timeout?.value == DurationValue(milliseconds: 600_000))
    #expect(backend.maxConcurrency?.value == 256)
    #expect(backend.forwardKey?.value == false)

    let client = try #require(syntax.clients.first)
    #expect(client.name.value == "ci-bot")
    #expect(client.keyHashes.map(\.value) == ["5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"])
    #expect(client.keyEnvironment.map(\.value) == ["CI_BOT_KEY"])

    #expect(syntax.routes.map { $0.name?.value } == ["team-a-pro", "deny-others", "default"])
    let pro = syntax.routes[0]
    #expect(pro.match?.clients.map(\.value) == ["team-a"])
    #expect(pro.match?.models.map(\.value) == ["gemini-2.5-pro*"])
    #expect(pro.match?.keyPrefixes.map(\.value) == ["gm_"])
    #expect(pro.systemPrompt?.value == .prepend("Answer in English."))
    #expect(pro.model?.value == "gpt-4o")
    #expect(pro.backends?.value.map(\.value) == ["openai", "azure", "local"])
    #expect(outcome.text(pro.backends?.span) == "[\"openai\", \"azure\", \"local\"]")
    #expect(pro.fallbackOn?.value.map(\.value) == [.connect, .timeout, .rateLimited, .serverError])
    #expect(pro.generation.map(\.parameter.value) == [.maxOutputTokens, .temperature])
    #expect(pro.generation.map(\.rule.value) == [ParameterRule(max: 4096), ParameterRule(defaultValue: 0.2)])
    #expect(pro.deny == nil)
    let deny = syntax.routes[1]
    #expect(deny.deny?.value == "this model is reserved for team-a")
    #expect(deny.backends == nil)
    let fallback = syntax.routes[2]
    #expect(fallback.match == nil)
    #expect(fallback.backends?.value.map(\.value) == ["local", "demo"])

    #expect(syntax.tests.count == 2)
    let first = syntax.tests[0]
    #expect(first.name?.value == "team-a pro goes to openai")
    #expect(first.request?.client?.value == "team-a")
    #expect(first.request?.model?.value == "gemini-2.5-pro")
    #expect(first.request?.key?.value == "gm_...")
    #expect(first.expect?.route?.value == "team-a-pro")
    #expect(first.expect?.model?.value == "gpt-4o")
    #expect(first.expect?.backends?.value == ["openai", "azure", "local"])
    #expect(syntax.tests[1].name == nil)
    #expect(syntax.tests[1].expect?.deny?.value == true)
  }

  /// The fields beyond the design document's examples.
  @Test func decodesEveryOptionalField() throws {
    let outcome = decode(
      """
      [server]
      listen = "[::1]:9090"
      auth = "none"
      max_request_body = 1048576
      request_log = "/var/log/louter.jsonl"
      header_timeout = "2s"
      body_timeout = "30s"
      idle_timeout = "5m"
      workers = 3

      [backends.gem]
      protocol = "gemini"
      url = "http://127.0.0.1:9000/v1beta"
      api_key = "Bearer ${A}-${B:-fallback}"
      first_byte_timeout = "1m30s"
      stream_idle_timeout = "250ms"
      timeout = "1h"
      max_tokens_field = "max_completion_tokens"
      stream_usage = false
      models = ["gemini-2.5-pro", "gemini-2.5-flash"]

      [clients.team-a]
      keys = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

      [[routes]]
      match = { client = "*", model = ["a*", "b"], stream = true, tools = false, images = true, header = { "X-Team" = "a" }, endpoint = ["generate", "count_tokens"] }
      system_prompt = { replace = "Be brief." }
      backends = "gem"
      generation = { top_k = 40, top_p = { min = 0.1, max = 0.9 } }

      [[tests]]
      request = { model = "a1", stream = true, tools = true, images = false, headers = { "X-Team" = "a" }, endpoint = "stream" }
      expect = { status = 404 }
      """)
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    let syntax = outcome.syntax
    #expect(syntax.version == nil)
    #expect(syntax.server?.listen?.value.description == "[::1]:9090")
    #expect(syntax.server?.auth?.value == AuthMode.none)
    #expect(syntax.server?.maxRequestBody?.value == 1_048_576)
    #expect(syntax.server?.requestLog?.value == .file("/var/log/louter.jsonl"))
    #expect(syntax.server?.headerTimeout?.value.milliseconds == 2_000)
    #expect(syntax.server?.bodyTimeout?.value.milliseconds == 30_000)
    #expect(syntax.server?.idleTimeout?.value.milliseconds == 300_000)
    #expect(syntax.server?.workers?.value == 3)

    let backend = try #require(syntax.backends.first)
    #expect(backend.protocolName?.value == .gemini)
    #expect(backend.firstByteTimeout?.value.milliseconds == 90_000)
    #expect(backend.streamIdleTimeout?.value.milliseconds == 250)
    #expect(backend.timeout?.value.milliseconds == 3_600_000)
    #expect(backend.maxTokensField?.value == "max_completion_tokens")
    #expect(backend.streamUsage?.value == false)
    #expect(backend.models.map(\.name.value) == ["gemini-2.5-pro", "gemini-2.5-flash"])
    #expect(backend.apiKey?.value.variables == ["A", "B"])
    #expect(syntax.clients.first?.keyHashes.count == 1)

    let match = try #require(syntax.routes.first?.match)
    #expect(match.clients.map(\.value) == ["*"])
    #expect(match.models.map(\.value) == ["a*", "b"])
    #expect(match.stream?.value == true)
    #expect(match.tools?.value == false)
    #expect(match.images?.value == true)
    #expect(match.headers.map { [$0.name.value, $0.value.value] } == [["x-team", "a"]])
    #expect(match.endpoints.map(\.value) == [.generate, .countTokens])
    let route = try #require(syntax.routes.first)
    #expect(route.systemPrompt?.value == .replace("Be brief."))
    #expect(route.backends?.value.map(\.value) == ["gem"])
    #expect(route.generation.map(\.parameter.value) == [.topK, .topP])
    #expect(route.generation.map(\.rule.value) == [ParameterRule(defaultValue: 40), ParameterRule(min: 0.1, max: 0.9)])

    let request = try #require(syntax.tests.first?.request)
    #expect(request.stream?.value == true)
    #expect(request.tools?.value == true)
    #expect(request.images?.value == false)
    #expect(request.headers.map(\.name.value) == ["x-team"])
    #expect(request.endpoint?.value == .stream)
    #expect(syntax.tests.first?.expect?.status?.value == 404)
  }

  @Test func parsesDurationsAndRejectsTheRest() {
    #expect(ValueParsers.parseDuration("250ms")?.milliseconds == 250)
    #expect(ValueParsers.parseDuration("5s")?.milliseconds == 5000)
    #expect(ValueParsers.parseDuration("2m")?.milliseconds == 120_000)
    #expect(ValueParsers.parseDuration("1h")?.milliseconds == 3_600_000)
    #expect(ValueParsers.parseDuration("1h30m")?.milliseconds == 5_400_000)
    #expect(ValueParsers.parseDuration("1m30s")?.milliseconds == 90_000)
    for bad in ["5", "5 s", "5sec", "s", "", "-5s", "1.5s", "5S", "99999999999999999999h"] {
      #expect(ValueParsers.parseDuration(bad) == nil, "\(bad)")
    }
  }

  @Test func parsesSizesInBinaryUnits() {
    #expect(ValueParsers.parseSize("512KiB") == 512 * 1024)
    #expect(ValueParsers.parseSize("20MiB") == 20 * 1024 * 1024)
    #expect(ValueParsers.parseSize("1GiB") == 1 << 30)
    #expect(ValueParsers.parseSize("100B") == 100)
    #expect(ValueParsers.parseSize("100") == 100)
    for bad in ["20MB", "20 MiB", "MiB", "", "-1KiB", "1.5MiB"] {
      #expect(ValueParsers.parseSize(bad) == nil, "\(bad)")
    }
  }

  @Test func templatesTakeRequiredAndOptionalVariables() {
    let outcome = decode(
      """
      [backends.a]
      protocol = "openai"
      url = "https://x.test"
      api_key = "Bearer ${A}-${B:-fallback}"
      headers = { x-extra = "${EXTRA:-}" }
      """)
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    let template = outcome.syntax.backends.first?.apiKey?.value
    #expect(template?.resolve(["A": "1"]) == .success("Bearer 1-fallback"))
    #expect(template?.resolve(["A": "1", "B": "2"]) == .success("Bearer 1-2"))
    #expect(template?.resolve([:]) == .failure(TemplateString.MissingVariable(name: "A")))
    #expect(outcome.syntax.backends.first?.headers.first?.value.value.resolve([:]) == .success(""))
  }

  @Test(arguments: [
    ("[backend.a]\nprotocol = \"echo\"\n", "did you mean 'backends'?"),
    ("[[test]]\nrequest = { model = \"m\" }\n", "did you mean 'tests'?"),
    ("[client.a]\nkeys = []\n", "did you mean 'clients'?"),
    ("[backends.a]\nprotcol = \"echo\"\nprotocol = \"echo\"\n", "did you mean 'protocol'?"),
    ("[backends.a]\nprotocol = \"gemni\"\n", "did you mean 'gemini'? use one of: openai, gemini, echo"),
    ("[backends.a]\nprotocol = \"echo\"\nfirst_byte_timout = \"5s\"\n", "did you mean 'first_byte_timeout'?"),
    (
      "[[routes]]\nfallback_on = [\"5xxx\"]\n",
      "did you mean '5xx'? use one of: connect, timeout, 429, 5xx, context_length"
    ),
    ("[[routes]]\nmatch = { endpont = \"embed\" }\n", "did you mean 'endpoint'?"),
    ("[[routes]]\nbackend = [\"a\"]\n", "did you mean 'backends'?"),
    (
      "[[routes]]\ngeneration = { max_tokens = 5 }\n",
      "use one of: temperature, top_p, top_k, max_output_tokens, candidate_count, presence_penalty, frequency_penalty"
    ),
  ])
  func suggestsTheClosestName(_ toml: String, _ help: String) {
    let outcome = decode(toml)
    #expect(outcome.diagnostics.map(\.help) == [help], "\(outcome.summary)")
  }

  @Test func plainTextClientKeysPrintOnlyTheirHash() throws {
    let key = "gm_super_secret_key_123"
    let outcome = decode("[clients.a]\nkeys = [\"sha256:\(String(repeating: "0", count: 64))\", \"\(key)\"]\n")
    let diagnostic = try #require(outcome.diagnostics.first)
    #expect(outcome.diagnostics.count == 1)
    #expect(diagnostic.code == .plainTextKey)
    #expect(outcome.position(diagnostic) == "2:84")
    #expect(diagnostic.help == "write the key's hash instead: \"sha256:\(SHA256.hexDigest(key))\"")
    let printed =
      [diagnostic.message, diagnostic.help ?? ""] + diagnostic.notes
      + ([diagnostic.primary].compactMap { $0 } + diagnostic.secondary).map(\.message)
    #expect(!printed.contains { $0.contains(key) })
    // The hash it prints is accepted as written.
    let fixed = decode("[clients.a]\nkeys = [\"sha256:\(SHA256.hexDigest(key))\"]\n")
    #expect(fixed.diagnostics.isEmpty)
    #expect(fixed.syntax.clients.first?.keyHashes.first?.value == SHA256.hexDigest(key))
  }

  @Test func plainTextAPIKeysAreNotEchoed() throws {
    let key = "sk-proj-0123456789abcdef"
    let outcome = decode("[backends.\"team.b\"]\nprotocol = \"openai\"\napi_key = \"\(key)\"\n")
    let diagnostic = try #require(outcome.diagnostics.first)
    #expect(outcome.diagnostics.count == 1)
    #expect(diagnostic.code == .plainTextKey)
    #expect(diagnostic.help == "read it from the environment: api_key = \"${TEAM_B_API_KEY}\"")
    let printed = [diagnostic.message, diagnostic.help ?? ""] + diagnostic.notes + [diagnostic.primary?.message ?? ""]
    #expect(!printed.contains { $0.contains(key) })
    #expect(outcome.syntax.backends.first?.apiKey == nil)
  }

  @Test func collectsEveryErrorOfAFile() {
    let outcome = decode(
      """
      version = 7
      [server]
      listen = "nowhere"
      max_request_body = "20MB"
      [backends.a]
      protocol = "opnai"
      url = 5
      timeout = "5sec"
      [clients.c]
      keys = ["plain"]
      [[routes]]
      name = ""
      match = { model = "a[1]", header = { "a b" = "c" } }
      [[routes]]
      url = "x"
      [[tests]]
      """)
    #expect(
      outcome.diagnostics.map(\.code.rawValue).sorted() == [
        "L0201", "L0202", "L0206", "L0207", "L0207", "L0208", "L0209", "L0211", "L0212", "L0213", "L0214", "L0215",
        "L0216",
      ], "\(outcome.summary)")
    // The valid parts of a broken file are still decoded, so later stages see what they can.
    #expect(outcome.syntax.backends.count == 1)
    #expect(outcome.syntax.routes.count == 2)
  }

  @Test func aValueOfTheWrongTypeIsNotAlsoReportedMissing() {
    let outcome = decode("[backends.a]\nprotocol = 5\n[[tests]]\nrequest = \"m\"\nexpect = { deny = true }\n")
    #expect(outcome.diagnostics.map(\.code) == [.wrongType, .wrongType], "\(outcome.summary)")
  }

  @Test func anEmptyChainIsLeftToTheCompiler() {
    let outcome = decode("[[routes]]\nbackends = []\n")
    #expect(outcome.diagnostics.isEmpty)
    #expect(outcome.syntax.routes.first?.backends?.value.isEmpty == true)
  }
}
