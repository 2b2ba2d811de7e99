import Foundation
import RouteSpec
import Testing

@Suite(.serialized) struct DiffCommandTests {
  static let routes = """
    [server]
    auth = "none"
    [backends.a]
    protocol = "echo"
    [backends.b]
    protocol = "echo"

    [[routes]]
    name = "pro"
    match = { model = "gemini-2.5-pro*" }
    backends = ["a", "b"]

    [[routes]]
    name = "default"
    backends = ["a"]
    """

  /// A scratch folder holding `old/routes.toml`, `new/routes.toml` and any extra files; removed afterwards.
  struct Scratch {
    let root: URL

    /// The NEW folder's name: GitHub annotations escape it as a property.
    let newName: String

    init(old: String, new: String, newName: String = "new") throws {
      root = FileManager.default.temporaryDirectory.appendingPathComponent("louter-diff-\(UUID().uuidString)")
      self.newName = newName
      for (name, text) in [("old", old), ("new", new)] {
        let name = name == "new" ? newName : name
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: folder.appendingPathComponent("routes.toml"))
      }
    }

    var old: String { root.appendingPathComponent("old").path }
    var new: String { root.appendingPathComponent(newName).path }

    func write(_ name: String, _ text: String) throws -> String {
      let url = root.appendingPathComponent(name)
      try Data(text.utf8).write(to: url)
      return url.path
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
  }

  static let reordered = routes.replacingOccurrences(of: "[\"a\", \"b\"]", with: "[\"b\", \"a\"]")

  @Test func identicalRouteSetsExitZero() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.routes)
    defer { scratch.remove() }
    let result = try CLI.run(["diff", scratch.old, scratch.new])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("no changes: "))
  }

  @Test func aChangedChainExitsOneAndNamesTheRequest() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.reordered)
    defer { scratch.remove() }
    let result = try CLI.run(["diff", scratch.old, scratch.new])
    #expect(result.status == 1)
    #expect(result.stdout.contains("gemini-2.5-pro-x anonymous"))
    #expect(result.stdout.contains("pro: gemini-2.5-pro-x -> a, b"))
    #expect(result.stdout.contains("pro: gemini-2.5-pro-x -> b, a"))
    #expect(result.stdout.contains("1 of 2 requests change (backends 1)"))
  }

  @Test func jsonFormatParsesAndListsTheChange() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.reordered)
    defer { scratch.remove() }
    let result = try CLI.run(["diff", "--format", "json", scratch.old, scratch.new])
    #expect(result.status == 1)
    let json = try JSONParser.parse(result.stdout)
    #expect(json["evaluated"]?.intValue == 2)
    #expect(json["changed"]?.intValue == 1)
    let change = try #require(json["changes"]?.arrayValue?.first)
    #expect(change["request"]?["model"]?.stringValue == "gemini-2.5-pro-x")
    #expect(change["old"]?["backends"] == .array(["a", "b"]))
    #expect(change["new"]?["backends"] == .array(["b", "a"]))
    #expect(change["changed"] == .array(["backends"]))
  }

  @Test func githubFormatIsAMarkdownTable() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.reordered)
    defer { scratch.remove() }
    let result = try CLI.run(["diff", "--format=github", scratch.old, scratch.new])
    #expect(result.status == 1)
    // After the annotation lines.
    #expect(result.stdout.contains("\n### louter diff: 1 of 2 requests change"))
    #expect(result.stdout.contains("| request | old | new | changed |"))
    #expect(result.stdout.contains("| gemini-2.5-pro-x anonymous | pro: gemini-2.5-pro-x -> a, b |"))
  }

  @Test func githubFormatAnnotatesEachChangeAtTheNewRouteBeforeTheTable() throws {
    // The route moves down two lines in NEW: the annotation follows it. The folder name is a
    // property value, so its `%`, `,` and `:` are escaped.
    let scratch = try Scratch(old: Self.routes, new: "# moved\n\n" + Self.reordered, newName: "n%,:ew")
    defer { scratch.remove() }
    let result = try CLI.run(["diff", "--format", "github", scratch.old, scratch.new])
    #expect(result.status == 1)
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let file = scratch.root.path + "/n%25%2C%3Aew/routes.toml"
    let message =
      "gemini-2.5-pro-x anonymous%0Aold: pro: gemini-2.5-pro-x -> a, b%0Anew: pro: gemini-2.5-pro-x -> b, a"
    #expect(
      lines.first
        == "::notice file=\(file),line=10,col=1,endColumn=11,title=louter diff%3A backends changed::\(message)")
    #expect(lines.dropFirst().first == "### louter diff: 1 of 2 requests change (backends 1)")
  }

  static let deniedWithoutDefault = #"""
    [server]
    auth = "none"
    [backends.a]
    protocol = "echo"

    [[routes]]
    name = "pro"
    match = { model = "gemini-2.5-pro*" }
    deny = "50% off\r\nno: a, b"
    """#

  @Test func githubFormatWarnsWhenARequestBecomesRefusedAndEscapesTheMessage() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.deniedWithoutDefault)
    defer { scratch.remove() }
    let result = try CLI.run(["diff", "--format", "github", scratch.old, scratch.new])
    #expect(result.status == 1, "\(result.stderr)")
    let annotations = result.stdout.split(separator: "\n").filter { $0.hasPrefix("::") }.map(String.init)
    let deniedMessage =
      "gemini-2.5-pro-x anonymous%0Aold: pro: gemini-2.5-pro-x -> a, b%0Anew: pro: deny \"50%25 off%0D%0Ano: a, b\""
    let denied =
      "::warning file=\(scratch.new)/routes.toml,line=6,col=1,endColumn=11,"
      + "title=louter diff%3A status%2C deny changed::\(deniedMessage)"
    // No route serves it any more: the annotation has no position.
    let unrouted =
      "::warning title=louter diff%3A status%2C route changed::louter-diff-unmatched-model anonymous"
      + "%0Aold: default: louter-diff-unmatched-model -> a%0Anew: 404 no route"
    #expect(annotations == [denied, unrouted])
  }

  @Test func requestsFileIsEvaluatedInsteadOfTheCoveringSet() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.reordered)
    defer { scratch.remove() }
    let unchanged = try scratch.write("unchanged.jsonl", "{\"model\": \"gemini-2.5-flash\", \"stream\": true}\n\n")
    let quiet = try CLI.run(["diff", scratch.old, scratch.new, "--requests", unchanged])
    #expect(quiet.status == 0, "\(quiet.stderr)")
    #expect(quiet.stdout == "no changes: 1 request evaluated\n")
    let changed = try scratch.write(
      "changed.jsonl",
      """
      {"model": "gemini-2.5-flash"}
      {"model": "gemini-2.5-pro", "key": "gm_x", "headers": {"X-Team": "a"}, "endpoint": "stream"}
      """)
    let loud = try CLI.run(["diff", scratch.old, scratch.new, "--requests", changed, "--format", "json"])
    #expect(loud.status == 1)
    let json = try JSONParser.parse(loud.stdout)
    #expect(json["evaluated"]?.intValue == 2)
    let request = try #require(json["changes"]?.arrayValue?.first?["request"])
    #expect(request["model"]?.stringValue == "gemini-2.5-pro")
    #expect(request["stream"]?.boolValue == true)
    #expect(request["headers"]?["x-team"]?.stringValue == "a")
  }

  @Test func usageErrorsExit64() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.routes)
    defer { scratch.remove() }
    let missing = try CLI.run(["diff", scratch.old])
    #expect(missing.status == 64)
    #expect(missing.stderr.hasPrefix("Error: diff takes two route sets"))
    #expect(missing.stderr.contains("Usage: louter diff OLD NEW"))
    let format = try CLI.run(["diff", scratch.old, scratch.new, "--format", "jsn"])
    #expect(format.status == 64)
    #expect(format.stderr.contains("did you mean 'json'?"))
    let option = try CLI.run(["diff", scratch.old, scratch.new, "--request", "x"])
    #expect(option.status == 64)
    let bad = try scratch.write("bad.jsonl", "{\"model\": \"m\"}\n{\"modle\": \"m\"}\n")
    let field = try CLI.run(["diff", scratch.old, scratch.new, "--requests", bad])
    #expect(field.status == 64)
    #expect(field.stderr.contains("bad.jsonl:2: unknown field 'modle'"))
    let notJSON = try scratch.write("broken.jsonl", "{\"model\": \n")
    #expect(try CLI.run(["diff", scratch.old, scratch.new, "--requests", notJSON]).status == 64)
    let client = try scratch.write("client.jsonl", "{\"model\": \"m\", \"client\": \"nobody\"}\n")
    let unknown = try CLI.run(["diff", scratch.old, scratch.new, "--requests", client])
    #expect(unknown.status == 64)
    #expect(unknown.stderr.contains("unknown client 'nobody'"))
  }

  @Test func aRouteSetThatDoesNotCompileExitsOneWithItsErrors() throws {
    let scratch = try Scratch(old: Self.routes, new: Self.routes.replacingOccurrences(of: "[\"a\"]", with: "[\"c\"]"))
    defer { scratch.remove() }
    let result = try CLI.run(["diff", scratch.old, scratch.new])
    #expect(result.status == 1)
    #expect(result.stderr.contains("error[L0203]: unknown backend 'c'"))
  }

  @Test func schemaAndDiffAreListedInHelp() throws {
    let help = try CLI.run(["--help"])
    #expect(help.stdout.contains("diff OLD NEW"))
    #expect(help.stdout.contains("schema"))
    let diffHelp = try CLI.run(["help", "diff"])
    #expect(diffHelp.status == 0)
    #expect(diffHelp.stdout.contains("--requests FILE"))
    let schema = try CLI.run(["schema"])
    #expect(schema.status == 0)
    let json = try JSONParser.parse(schema.stdout)
    #expect(json["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema")
    #expect(json["properties"]?["routes"]?["items"]?["properties"]?["backends"] != nil)
    #expect(try CLI.run(["schema", "extra"]).status == 64)
  }
}
