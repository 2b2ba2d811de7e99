import Foundation
import RouteCompiler
import RouteSpec
import Testing

@Suite struct RouteDiffTests {
  static let backends = """
    [server]
    auth = "none"
    [backends.a]
    protocol = "echo"
    [backends.b]
    protocol = "echo"

    [clients.team-a]
    keys = ["sha256:67b6d12b7491fbf889be4a963bd78808c087be7925130b3b1ce4e7c12858a205"]

    """

  static let routes = """
    [[routes]]
    name = "team-a-pro"
    match = { client = "team-a", model = "gemini-2.5-pro*" }
    model = "gpt-4o"
    backends = ["a", "b"]

    [[routes]]
    name = "deny-pro"
    match = { model = "gemini-2.5-pro*" }
    deny = "reserved"

    [[routes]]
    name = "flash-tools"
    match = { model = ["gemini-flash", "*-lite"], tools = true, header = { "x-team" = "red" } }
    backends = ["b"]

    [[routes]]
    name = "sk-keys"
    match = { key_prefix = "sk-", endpoint = "embed" }
    backends = ["a"]

    [[routes]]
    name = "default"
    backends = ["a"]

    """

  static func table(_ text: String) throws -> RouteTable {
    let pipeline = Pipeline(backends + text)
    #expect(!pipeline.diagnostics.hasErrors, "\(pipeline.rendered)")
    return try #require(pipeline.table)
  }

  @Test func coveringSetHasAWitnessForEveryGlobAndAModelNothingMatches() throws {
    let table = try Self.table(Self.routes)
    let requests = RouteDiff.coveringRequests(old: table, new: table)
    let models = Set(requests.map(\.model))
    #expect(models.contains("gemini-2.5-pro-x"))
    #expect(models.contains("x-lite"))
    #expect(models.contains("gemini-flash"))
    #expect(models.contains("gpt-4o"), "a rewritten model is a literal a client may ask for")
    let patterns = table.routes.flatMap(\.match.models)
    #expect(models.contains { model in !patterns.contains { $0.matches(model) } })
  }

  @Test func coveringSetVariesOnlyWhatSomeRouteMatchesOn() throws {
    let table = try Self.table(Self.routes)
    let requests = RouteDiff.coveringRequests(old: table, new: table)
    #expect(Set(requests.map(\.tools)) == [false, true])
    #expect(Set(requests.map(\.stream)) == [false, true], "the stream endpoint implies stream")
    #expect(Set(requests.map(\.images)) == [false], "no route matches on images")
    #expect(Set(requests.map(\.endpoint)) == Set(Endpoint.allCases))
    #expect(Set(requests.map(\.key)) == [nil, "sk-"])
    #expect(Set(requests.map(\.client)) == [nil, "team-a"], "auth = none: anonymous requests are routed")
    #expect(Set(requests.map(\.headers)) == [[], [DiffHeader(name: "x-team", value: "red")]])
    #expect(requests.count == Set(requests).count)
  }

  @Test func anonymousIsLeftOutWhenBothTablesRequireAKey() throws {
    let text = Self.backends.replacingOccurrences(of: "auth = \"none\"", with: "auth = \"required\"") + Self.routes
    let pipeline = Pipeline(text)
    let table = try #require(pipeline.table)
    let requests = RouteDiff.coveringRequests(old: table, new: table)
    #expect(Set(requests.map(\.client)) == ["team-a"])
  }

  @Test func unchangedTablesGiveNoChanges() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(Self.routes)
    let report = RouteDiff.compare(old: old, new: new, requests: RouteDiff.coveringRequests(old: old, new: new))
    #expect(report.evaluated > 100)
    #expect(report.changes.isEmpty)
  }

  @Test func reorderedBackendsAreAChainChange() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(
      Self.routes.replacingOccurrences(of: "backends = [\"a\", \"b\"]", with: "backends = [\"b\", \"a\"]"))
    let report = RouteDiff.compare(old: old, new: new, requests: RouteDiff.coveringRequests(old: old, new: new))
    #expect(!report.changes.isEmpty)
    for change in report.changes {
      #expect(change.aspects == [.backends])
      #expect(change.request.client == "team-a")
      #expect(ModelPattern("gemini-2.5-pro*").matches(change.request.model))
    }
    #expect(report.changes.contains { $0.request.model == "gemini-2.5-pro-x" })
  }

  @Test func changedClientLimitsAreAnActionsChangeOfThatClientsRequests() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(
      Self.routes + "\n[clients.team-a.limits]\nrequests_per_minute = 10\n")
    let report = RouteDiff.compare(old: old, new: new, requests: RouteDiff.coveringRequests(old: old, new: new))
    #expect(!report.changes.isEmpty)
    for change in report.changes {
      #expect(change.aspects == [.actions])
      #expect(change.request.client == "team-a")
    }
  }

  @Test func aDenyThatGoesAwayIsReported() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(
      Self.routes.replacingOccurrences(of: "deny = \"reserved\"", with: "backends = [\"b\"]"))
    let anonymous = DiffRequest(model: "gemini-2.5-pro-preview")
    let report = RouteDiff.compare(old: old, new: new, requests: [anonymous, DiffRequest(model: "other")])
    let change = try #require(report.changes.first)
    #expect(report.changes.count == 1)
    #expect(change.request == anonymous)
    #expect(change.aspects == [.status, .deny])
    #expect(change.old.route?.name == "deny-pro")
    #expect(change.old.denyMessage == "reserved")
    #expect(change.new.status == 200)
  }

  @Test func aChangedDenyMessageIsReported() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(Self.routes.replacingOccurrences(of: "deny = \"reserved\"", with: "deny = \"ask team-a\""))
    let report = RouteDiff.compare(old: old, new: new, requests: RouteDiff.coveringRequests(old: old, new: new))
    #expect(!report.changes.isEmpty)
    #expect(report.changes.allSatisfy { $0.aspects == [.deny] })
  }

  @Test func modelAndActionChangesAreToldApart() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(
      Self.routes.replacingOccurrences(
        of: "model = \"gpt-4o\"", with: "model = \"gpt-4.1\"\nsystem_prompt = { prepend = \"Be brief.\" }"))
    let request = DiffRequest(client: "team-a", model: "gemini-2.5-pro")
    let change = try #require(RouteDiff.compare(old: old, new: new, requests: [request]).changes.first)
    #expect(change.aspects == [.model, .actions])
  }

  @Test func aClientMissingFromOneTableHasAnUnknownKeyThere() throws {
    let old = try Self.table(Self.routes)
    let new = try Self.table(Self.routes)
    // In a table without team-a, its key identifies nobody: with auth = none it is anonymous.
    let request = DiffRequest(client: "team-a", model: "gemini-2.5-pro")
    #expect(RouteDiff.outcome(of: request, in: old).route?.name == "team-a-pro")
    let text =
      Self.backends.replacingOccurrences(of: "[clients.team-a]", with: "[clients.team-z]")
      + Self.routes
      .replacingOccurrences(of: "client = \"team-a\"", with: "client = \"team-z\"")
    let without = try #require(Pipeline(text).table)
    #expect(RouteDiff.outcome(of: request, in: without).route?.name == "deny-pro")
    #expect(RouteDiff.outcome(of: request, in: new).route?.name == "team-a-pro")
  }

  @Test func reorderingTwoOverlappingGlobsIsFound() throws {
    let pro = """
      [[routes]]
      name = "any-pro"
      match = { model = "gemini-*-pro" }
      backends = ["a"]

      """
    let flash = """
      [[routes]]
      name = "any-2.5"
      match = { model = "gemini-2.5-*" }
      backends = ["b"]

      """
    let fallback = """
      [[routes]]
      name = "default"
      backends = ["a"]
      """
    let old = try Self.table(pro + flash + fallback)
    let new = try Self.table(flash + pro + fallback)
    let report = RouteDiff.compare(old: old, new: new, requests: RouteDiff.coveringRequests(old: old, new: new))
    // Only a name matching both globs tells the two orders apart; a witness of each glob alone does not.
    #expect(Set(report.changes.map(\.request.model)) == ["gemini-2.5-x-pro"])
    #expect(report.changes.first?.aspects == [.route, .backends])
  }

  @Test func globWitnesses() {
    #expect(RouteDiff.globWitness(pieces: ["gemini-2.5-pro", ""]) == "gemini-2.5-pro-x")
    #expect(RouteDiff.globWitness(pieces: ["gemini-", ""]) == "gemini-x")
    #expect(RouteDiff.globWitness(pieces: ["", "-lite"]) == "x-lite")
    #expect(RouteDiff.globWitness(pieces: ["a", "b", "c"]) == "a-xb-xc")
  }
}
