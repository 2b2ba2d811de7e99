import Testing

@testable import RouteSpec

@Suite struct RouteDecoderTests {
  func decode(_ text: String) -> (RouteFileSyntax, [Diagnostic], SourceFile) {
    var sources = SourceMap()
    let file = sources.add(path: "a.toml", bytes: Array(text.utf8))
    do {
      let table = try TOMLParser.parse(file)
      let (syntax, diagnostics) = RouteFileDecoder.decode(table, file: file)
      return (syntax, diagnostics, file)
    } catch {
      return (RouteFileSyntax(file: file.id), [error.diagnostic], file)
    }
  }

  @Test func decodesTheDesignDocumentExample() throws {
    let (syntax, diagnostics, _) = decode(
      """
      version = 1
      [server]
      listen = "[::1]:9090"
      auth = "required"
      max_request_body = "20MiB"
      request_log = "/var/log/louter.jsonl"

      [backends.openai]
      protocol = "openai"
      url = "https://api.openai.com/v1"
      api_key = "${OPENAI_API_KEY}"
      headers = { "OpenAI-Organization" = "org-1" }
      connect_timeout = "5s"
      first_byte_timeout = "1m30s"
      stream_idle_timeout = "250ms"
      timeout = "1h"
      max_concurrency = 256
      forward_key = false

      [clients.ci-bot]
      keys = ["sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]
      key_env = ["CI_BOT_KEY"]

      [[routes]]
      name = "team-a-pro"
      match = { client = ["ci-bot"], model = "gemini-2.5-pro*", key_prefix = "gm_", header = { "X-Team" = "a" } }
      system_prompt = { prepend = "Answer in English." }
      model = "gpt-4o"
      backends = ["openai"]
      fallback_on = ["connect", "429"]
      generation = { max_output_tokens = { max = 4096 }, temperature = 0.2 }

      [[tests]]
      request = { client = "ci-bot", model = "gemini-2.5-pro" }
      expect = { route = "team-a-pro", backends = ["openai"] }
      """)
    #expect(diagnostics.isEmpty, "\(diagnostics.map(\.message))")
    #expect(syntax.server?.listen?.value == ListenAddress(host: "::1", port: 9090))
    #expect(syntax.server?.maxRequestBody?.value == 20 * 1024 * 1024)
    #expect(syntax.server?.requestLog?.value == .file("/var/log/louter.jsonl"))
    let backend = try #require(syntax.backends.first)
    #expect(backend.protocolName?.value == .openai)
    #expect(backend.apiKey?.value.variables == ["OPENAI_API_KEY"])
    #expect(backend.firstByteTimeout?.value.milliseconds == 90_000)
    #expect(backend.streamIdleTimeout?.value.milliseconds == 250)
    #expect(backend.timeout?.value.milliseconds == 3_600_000)
    #expect(backend.headers.first?.name.value == "openai-organization")
    let client = try #require(syntax.clients.first)
    #expect(client.keyHashes.first?.value.count == 64)
    #expect(client.keyEnvironment.map(\.value) == ["CI_BOT_KEY"])
    let route = try #require(syntax.routes.first)
    #expect(route.match?.models.map(\.value) == ["gemini-2.5-pro*"])
    #expect(route.match?.headers.first?.name.value == "x-team")
    #expect(route.systemPrompt?.value == .prepend("Answer in English."))
    #expect(route.fallbackOn?.value.map(\.value) == [.connect, .rateLimited])
    #expect(route.generation.map(\.parameter.value) == [.maxOutputTokens, .temperature])
    #expect(route.generation.last?.rule.value.defaultValue == 0.2)
    #expect(syntax.tests.count == 1)
  }

  @Test func parsesDurationsAndRejectsTheRest() {
    #expect(ValueParsers.parseDuration("250ms")?.milliseconds == 250)
    #expect(ValueParsers.parseDuration("2m")?.milliseconds == 120_000)
    #expect(ValueParsers.parseDuration("1h30m")?.milliseconds == 5_400_000)
    for bad in ["5", "5 s", "5sec", "s", "", "-5s", "1.5s"] {
      #expect(ValueParsers.parseDuration(bad) == nil, "\(bad)")
    }
  }

  @Test func parsesSizesInBinaryUnits() {
    #expect(ValueParsers.parseSize("512KiB") == 512 * 1024)
    #expect(ValueParsers.parseSize("20MiB") == 20 * 1024 * 1024)
    #expect(ValueParsers.parseSize("100B") == 100)
    #expect(ValueParsers.parseSize("20MB") == nil)
    let (_, diagnostics, _) = decode("[server]\nmax_request_body = \"20MB\"\n")
    #expect(diagnostics.first?.help == "louter sizes use binary units: write \"20MiB\"")
  }

  @Test func templatesTakeRequiredAndOptionalVariables() {
    let (syntax, diagnostics, _) = decode(
      "[backends.a]\nprotocol = \"openai\"\nurl = \"https://x.test\"\napi_key = \"Bearer ${A}-${B:-fallback}\"\n")
    #expect(diagnostics.isEmpty)
    let template = syntax.backends.first?.apiKey?.value
    #expect(template?.resolve(["A": "1"]) == .success("Bearer 1-fallback"))
    #expect(template?.resolve(["A": "1", "B": "2"]) == .success("Bearer 1-2"))
    #expect(template?.resolve([:]) == .failure(TemplateString.MissingVariable(name: "A")))
    let (_, broken, _) = decode("[backends.a]\nprotocol = \"openai\"\nurl = \"https://x.test\"\napi_key = \"${A\"\n")
    #expect(broken.map(\.code) == [.invalidValue])
  }

  @Test func unknownKeysSuggestTheClosestKnownKey() {
    let (_, diagnostics, file) = decode("[backends.a]\nprotocl = \"echo\"\nprotocol = \"echo\"\n")
    let unknown = diagnostics.first { $0.code == .unknownKey }
    #expect(unknown?.help == "did you mean 'protocol'?")
    #expect(unknown.flatMap(\.primary).map { file.location(of: $0.span.start) } == SourceLocation(line: 2, column: 1))
  }

  @Test func plainTextKeysNeverEchoTheKey() {
    let (_, diagnostics, _) = decode("[clients.a]\nkeys = [\"gm_super_secret\"]\n")
    let diagnostic = diagnostics.first { $0.code == .plainTextKey }
    #expect(diagnostic?.help?.contains(SHA256.hexDigest("gm_super_secret")) == true)
    #expect(!(diagnostic?.message.contains("gm_super_secret") ?? true))
    #expect(!(diagnostic?.help?.contains("gm_super_secret") ?? true))
  }

  @Test func collectsEveryErrorOfAFile() {
    let (_, diagnostics, _) = decode(
      "[backends.a]\nprotocol = \"opnai\"\nurl = 5\ntimeout = \"5sec\"\n[[routes]]\nmatch = { model = \"a[1]\" }\n")
    #expect(diagnostics.map(\.code.rawValue).sorted() == ["L0202", "L0206", "L0208", "L0211"])
  }
}

@Suite struct SHA256Tests {
  @Test(arguments: [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
  ])
  func knownVectors(_ input: String, _ digest: String) {
    #expect(SHA256.hexDigest(input) == digest)
  }

  @Test func oneMillionAs() {
    #expect(
      SHA256.hexDigest(String(repeating: "a", count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }
}
