import RouteCompiler
import RouteSpec
import Testing

/// `RouteTable.decide`: one test per outcome, authentication included.
@Suite struct RouteDecisionTests {
  static let config = """
    [backends.a]
    protocol = "echo"

    [clients.team-a]
    keys = ["sha256:67b6d12b7491fbf889be4a963bd78808c087be7925130b3b1ce4e7c12858a205"]
    [clients.team-b]
    keys = ["sha256:a105bb7c000f1a11c3d176ba1f1223381b34c14d34d9f1f5b54932eb40dac552"]

    [[routes]]
    name = "team-a-pro"
    match = { client = "team-a", model = "pro" }
    model = "gpt-4o"
    backends = ["a"]

    [[routes]]
    name = "deny-pro"
    match = { model = "pro" }
    deny = "reserved"

    [[routes]]
    name = "open"
    match = { model = "m*" }
    backends = ["a"]
    """

  let table: RouteTable

  init() throws {
    let pipeline = Pipeline(Self.config)
    table = try #require(pipeline.table, "\(pipeline.rendered)")
  }

  func client(_ name: String) throws -> Int { try #require(table.clientIndex[name]) }

  @Test func missingKeyIsRefusedBeforeAnyRoute() {
    // "m1" would match the open route: authentication decides first.
    let decision = table.decide(RouteQuery(caller: .presentedKey, facts: RequestFacts(model: "m1")))
    guard case .unauthenticated(.missingKey) = decision else {
      Issue.record("expected missing key, got \(decision)")
      return
    }
    #expect(decision.status == 403)
    #expect(decision.route == nil)
  }

  @Test func unknownKeyAndUnknownClientAreRefused() throws {
    let unknownKey = table.decide(RouteQuery(caller: .presentedKey, facts: RequestFacts(key: "nope", model: "m1")))
    guard case .unauthenticated(.unknownKey) = unknownKey else {
      Issue.record("expected unknown key, got \(unknownKey)")
      return
    }
    #expect(unknownKey.status == 400)
    let unknownClient = table.decide(RouteQuery(caller: .unknownClient, facts: RequestFacts(model: "m1")))
    guard case .unauthenticated(.unknownKey) = unknownClient else {
      Issue.record("expected unknown key, got \(unknownClient)")
      return
    }
    // With auth off, an unknown client is anonymous and goes on to the routes.
    let open = try #require(
      Pipeline(Self.config.replacingAll("[backends.a]", with: "[server]\nauth = \"none\"\n[backends.a]")).table)
    guard case .routed(let plan) = open.decide(RouteQuery(caller: .unknownClient, facts: RequestFacts(model: "m1")))
    else {
      Issue.record("expected the open route with auth off")
      return
    }
    #expect(open.routes[plan.route].name == "open")
  }

  @Test func denyRouteIsDenied() throws {
    // The caller, not the facts' own `client`, says who the request is.
    let facts = RequestFacts(client: try client("team-a"), model: "pro")
    let decision = table.decide(RouteQuery(caller: .client(try client("team-b")), facts: facts))
    guard case .denied(let route, let message) = decision else {
      Issue.record("expected deny, got \(decision)")
      return
    }
    #expect(table.routes[route].name == "deny-pro")
    #expect(message == "reserved")
    #expect(decision.status == 403)
    #expect(decision.route == route)
  }

  @Test func unmatchedRequestHasNoRoute() throws {
    let decision = table.decide(RouteQuery(caller: .client(try client("team-a")), facts: RequestFacts(model: "other")))
    guard case .noRoute = decision else {
      Issue.record("expected no route, got \(decision)")
      return
    }
    #expect(decision.status == 404)
    #expect(decision.route == nil)
  }

  @Test func presentedKeyAuthenticatesAndRoutes() {
    let decision = table.decide(
      RouteQuery(caller: .presentedKey, facts: RequestFacts(key: "gm_demo_team_a_key", model: "pro")))
    guard case .routed(let plan) = decision else {
      Issue.record("expected a forward, got \(decision)")
      return
    }
    #expect(table.routes[plan.route].name == "team-a-pro")
    #expect(plan.model == "gpt-4o")
    #expect(plan.chain.map { table.backends[$0].name } == ["a"])
    #expect(decision.status == 200)
    #expect(decision.route == plan.route)
  }
}
