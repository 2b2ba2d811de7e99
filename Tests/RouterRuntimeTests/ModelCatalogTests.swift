import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// `GET models` and `GET models/{m}`: token limits and the methods the routes really serve.
@Suite struct ModelCatalogTests {
  static let backends = """
    [server]
    auth = "none"
    [backends.g]
    protocol = "gemini"
    url = "https://generativelanguage.googleapis.com"
    models = ["gemini-2.5-flash", { name = "gemini-2.5-pro", input_tokens = 2000000, output_tokens = 32768 }]
    [backends.o]
    protocol = "openai"
    url = "https://api.openai.com/v1"
    models = [{ name = "gpt-4o-mini", output_tokens = 4096 }, "gpt-4o", "text-embedding-3-small"]

    """

  static func table(_ routes: String) throws -> RouteTable {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array((backends + routes).utf8))
    let (syntax, decoded) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let result = RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:])
    let diagnostics = decoded + result.diagnostics
    #expect(!diagnostics.hasErrors, "\(DiagnosticRenderer(sources: sources).render(diagnostics, format: .short))")
    return try #require(result.table)
  }

  static let anyone = RequestFacts(model: "")

  @Test func theAnswerOfGetModelCarriesLimitsAndMethods() throws {
    let table = try Self.table("[[routes]]\nbackends = [\"g\"]\n")
    let model = try #require(ModelCatalog.model("gemini-2.5-pro", for: Self.anyone, table: table))
    #expect(
      ModelCatalog.modelJSON(model).serialized()
        == #"{"name":"models/gemini-2.5-pro","version":"1","displayName":"gemini-2.5-pro","#
        + #""description":"served by louter","inputTokenLimit":2000000,"outputTokenLimit":32768,"#
        + #""supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens","embedContent","#
        + #""batchEmbedContents"]}"#)
  }

  @Test func limitsNotWrittenTakeTheProtocolsDefaults() throws {
    let table = try Self.table(
      """
      [[routes]]
      match = { model = "gemini-*" }
      backends = ["g"]
      [[routes]]
      backends = ["o"]
      """)
    func limits(_ name: String) -> [Int]? {
      ModelCatalog.model(name, for: Self.anyone, table: table).map { [$0.limits.input, $0.limits.output] }
    }
    #expect(limits("gemini-2.5-flash") == [1_048_576, 65_536])
    // A name no backend lists: the defaults of the protocol it goes to.
    #expect(limits("gemini-exp") == [1_048_576, 65_536])
    #expect(limits("gpt-4o") == [128_000, 16_384])
    #expect(limits("gpt-4o-mini") == [128_000, 4096])
    #expect(limits("llama") == [128_000, 16_384])
  }

  @Test func aRewrittenModelTakesTheLimitsOfTheNameSentUpstream() throws {
    let table = try Self.table("[[routes]]\nmodel = \"gpt-4o-mini\"\nbackends = [\"o\"]\n")
    let model = try #require(ModelCatalog.model("my-alias", for: Self.anyone, table: table))
    #expect(model.limits == TokenLimits(input: 128_000, output: 4096))
  }

  @Test func theFirstBackendOfTheChainThatListsTheModelGivesItsLimits() throws {
    let table = try Self.table(
      """
      [backends.o2]
      protocol = "openai"
      url = "https://example.com/v1"
      models = [{ name = "gpt-4o", input_tokens = 1000, output_tokens = 100 }]
      [[routes]]
      backends = ["o2", "o"]
      """)
    #expect(
      ModelCatalog.model("gpt-4o", for: Self.anyone, table: table)?.limits == TokenLimits(input: 1000, output: 100))
  }

  @Test func methodsAreOnlyThoseTheRoutesServe() throws {
    let table = try Self.table(
      """
      [[routes]]
      match = { model = "text-embedding-*", endpoint = "embed" }
      backends = ["o"]
      [[routes]]
      match = { model = "text-embedding-*" }
      deny = "embeddings only"
      [[routes]]
      match = { model = "gpt-4o", stream = true }
      deny = "no streams"
      [[routes]]
      match = { model = "gpt-4o*", endpoint = ["generate", "stream"] }
      backends = ["o"]
      """)
    func methods(_ name: String) -> [String]? {
      ModelCatalog.model(name, for: Self.anyone, table: table)?.methods.map(\.rawValue)
    }
    #expect(methods("text-embedding-3-small") == ["embedContent", "batchEmbedContents"])
    #expect(methods("gpt-4o") == ["generateContent"])
    #expect(methods("gpt-4o-mini") == ["generateContent", "streamGenerateContent"])
    // Nothing forwards any method of it: not a model of this table (404).
    #expect(methods("gemini-2.5-pro") == nil)
    // The list holds every backend model some method reaches, embedding-only ones included.
    #expect(
      ModelCatalog.models(for: Self.anyone, table: table).map(\.name) == [
        "gpt-4o", "gpt-4o-mini", "text-embedding-3-small",
      ])
  }

  @Test func theCallersKeyAndHeadersChooseTheRoute() throws {
    let table = try Self.table(
      """
      [[routes]]
      match = { model = "gemini-2.5-pro", key_prefix = "gm_" }
      backends = ["g"]
      [[routes]]
      match = { model = "gemini-2.5-pro", header = { "x-team" = "a" } }
      backends = ["g"]
      [[routes]]
      deny = "no"
      """)
    #expect(ModelCatalog.model("gemini-2.5-pro", for: Self.anyone, table: table) == nil)
    let keyed = RequestFacts(key: "gm_123", model: "")
    #expect(ModelCatalog.model("gemini-2.5-pro", for: keyed, table: table)?.methods.count == 5)
    let teamA = RequestFacts(model: "", headers: [("x-team", "a")])
    #expect(ModelCatalog.models(for: teamA, table: table).map(\.name) == ["gemini-2.5-pro"])
    #expect(ModelCatalog.models(for: Self.anyone, table: table).isEmpty)
  }

  @Test func theGatewayAnswersGetModelFromTheCatalog() async throws {
    let louter = try GatewayUnderTest(
      Self.backends + "[[routes]]\nmatch = { endpoint = \"embed\" }\nbackends = [\"o\"]\n")
    defer { louter.stop() }
    let model = try await louter.get("/v1beta/models/text-embedding-3-small")
    #expect(model.head.hasPrefix("HTTP/1.1 200"))
    let json = try JSONParser.parse(Array(model.body.utf8))
    #expect(json["inputTokenLimit"] == 128_000)
    #expect(json["outputTokenLimit"] == 16_384)
    #expect(json["supportedGenerationMethods"] == ["embedContent", "batchEmbedContents"])
    let list = try JSONParser.parse(Array(try await louter.get("/v1beta/models").body.utf8))
    #expect(list["models"]?.arrayValue?.compactMap { $0["outputTokenLimit"] } == [16_384, 4096, 16_384])
  }
}
