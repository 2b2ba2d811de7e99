import RouteCompiler
import RouteSpec
import Testing

@Suite struct RouteEvaluationTests {
  static let config = """
    [backends.a]
    protocol = "echo"
    [backends.b]
    protocol = "echo"

    [clients.team-a]
    keys = ["sha256:67b6d12b7491fbf889be4a963bd78808c087be7925130b3b1ce4e7c12858a205"]
    [clients.team-b]
    keys = ["sha256:a105bb7c000f1a11c3d176ba1f1223381b34c14d34d9f1f5b54932eb40dac552"]

    [[routes]]
    name = "team-a-pro"
    match = { client = "team-a", model = "gemini-2.5-pro*" }
    model = "gpt-4o"
    system_prompt = { prepend = "Be brief." }
    backends = ["a", "b"]

    [[routes]]
    name = "deny-pro"
    match = { model = "gemini-2.5-pro*" }
    deny = "reserved"

    [[routes]]
    name = "sk-keys"
    match = { key_prefix = ["sk-", "sk-ant-"] }
    backends = ["b"]

    [[routes]]
    name = "streams-with-tools"
    match = { stream = true, tools = true }
    backends = ["b"]

    [[routes]]
    name = "images"
    match = { images = true, endpoint = ["generate", "stream"] }
    backends = ["a"]

    [[routes]]
    name = "team-header"
    match = { header = { "x-team" = "blue" } }
    backends = ["a"]

    [[routes]]
    name = "list"
    match = { model = ["llama*", "qwen*:7b", "exact-model"] }
    backends = ["a"]

    [[routes]]
    name = "any-client"
    match = { client = "*", model = "*-latest" }
    backends = ["b"]

    [[routes]]
    name = "default"
    backends = ["a"]
    """

  let table: RouteTable

  init() throws {
    let pipeline = Pipeline(Self.config)
    table = try #require(pipeline.table, "\(pipeline.rendered)")
  }

  func route(_ facts: RequestFacts) -> String? {
    let indexed = table.firstMatch(facts)
    #expect(indexed == table.firstMatchLinear(facts), "index and linear scan disagree for \(facts.model)")
    return indexed.map { table.routes[$0].name }
  }

  func client(_ name: String) -> Int? { table.clientIndex[name] }

  @Test func firstMatchWinsInFileOrder() {
    #expect(route(RequestFacts(client: client("team-a"), model: "gemini-2.5-pro")) == "team-a-pro")
    #expect(route(RequestFacts(client: client("team-b"), model: "gemini-2.5-pro")) == "deny-pro")
    #expect(route(RequestFacts(model: "gemini-2.5-pro-exp")) == "deny-pro")
  }

  @Test func globsMatchPrefixesSuffixesAndMiddles() {
    #expect(route(RequestFacts(model: "llama3.2:3b")) == "list")
    #expect(route(RequestFacts(model: "qwen2.5:7b")) == "list")
    #expect(route(RequestFacts(model: "qwen2.5:14b")) == "default")
    #expect(route(RequestFacts(model: "exact-model")) == "list")
    #expect(route(RequestFacts(model: "exact-model-2")) == "default")
    #expect(ModelPattern("a*b*c").matches("a-b-c"))
    #expect(ModelPattern("a*b*c").matches("abc"))
    #expect(!ModelPattern("a*b*c").matches("a-c"))
    #expect(!ModelPattern("a*bc").matches("abc-"))
    #expect(ModelPattern("*").matches(""))
  }

  @Test func keyPrefixesAndClientsMatch() {
    #expect(route(RequestFacts(key: "sk-ant-123", model: "m")) == "sk-keys")
    #expect(route(RequestFacts(key: "gm_123", model: "m")) == "default")
    #expect(route(RequestFacts(client: client("team-b"), model: "gpt-latest")) == "any-client")
    #expect(route(RequestFacts(model: "gpt-latest")) == "default", "'*' needs an authenticated client")
  }

  @Test func requestFeaturesMatch() {
    #expect(route(RequestFacts(model: "m", endpoint: .stream, stream: true, tools: true)) == "streams-with-tools")
    #expect(route(RequestFacts(model: "m", stream: false, tools: true)) == "default")
    #expect(route(RequestFacts(model: "m", endpoint: .generate, images: true)) == "images")
    #expect(route(RequestFacts(model: "m", endpoint: .countTokens, images: true)) == "default")
    #expect(route(RequestFacts(model: "m", headers: [("x-team", "blue")])) == "team-header")
    #expect(route(RequestFacts(model: "m", headers: [("x-team", "red")])) == "default")
  }

  @Test func plansCarryActionsAndResolvedChains() throws {
    let plan = table.plan(for: RequestFacts(client: client("team-a"), model: "gemini-2.5-pro"))
    guard case .forward(let forward) = plan else {
      Issue.record("expected forward, got \(plan)")
      return
    }
    #expect(forward.model == "gpt-4o")
    #expect(forward.systemPrompt == .prepend("Be brief."))
    #expect(forward.chain.map { table.backends[$0].name } == ["a", "b"])
    #expect(forward.fallbackOn == FallbackTrigger.defaultFallbackOn)
    guard case .deny(_, let message) = table.plan(for: RequestFacts(model: "gemini-2.5-pro")) else {
      Issue.record("expected deny")
      return
    }
    #expect(message == "reserved")
  }

  @Test func withoutCatchAllSomeRequestsMatchNothing() throws {
    let pipeline = Pipeline(
      """
      [backends.a]
      protocol = "echo"
      [[routes]]
      match = { model = "x" }
      backends = ["a"]
      """)
    let table = try #require(pipeline.table)
    guard case .noRoute = table.plan(for: RequestFacts(model: "y")) else {
      Issue.record("expected no route")
      return
    }
    #expect(pipeline.codes == ["L0307"])
  }

  @Test func authenticationFollowsServerAuth() throws {
    #expect(table.authenticate(key: "gm_demo_team_a_key") == .client(try #require(client("team-a"))))
    #expect(table.authenticate(key: nil) == .missingKey)
    #expect(table.authenticate(key: "nope") == .invalidKey)
    let open = try #require(
      Pipeline(Self.config.replacingAll("[backends.a]", with: "[server]\nauth = \"none\"\n[backends.a]")).table)
    #expect(open.authenticate(key: nil) == .anonymous)
    #expect(open.authenticate(key: "nope") == .anonymous)
    #expect(open.authenticate(key: "gm_demo_team_b_key") == .client(try #require(open.clientIndex["team-b"])))
  }

  @Test func indexAgreesWithLinearScanOnManyRequests() {
    let models = ["gemini-2.5-pro", "gemini-2.5-flash", "llama3", "qwen:7b", "exact-model", "x-latest", "", "q"]
    let clients: [Int?] = [nil, client("team-a"), client("team-b")]
    for model in models {
      for client in clients {
        for stream in [false, true] {
          for key in [nil, "sk-1", "gm_"] {
            let facts = RequestFacts(
              client: client, key: key, model: model, endpoint: stream ? .stream : .generate, stream: stream,
              tools: stream, images: !stream)
            #expect(table.firstMatch(facts) == table.firstMatchLinear(facts))
          }
        }
      }
    }
  }
}
