import Foundation
import Testing

/// Runs the built `louter` binary as a user would and checks exit codes and output.
enum CLI {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = root.appendingPathComponent("Tests/LouterCLITests/Fixtures")

  static var binary: URL {
    // The test bundle sits in the same build folder as the executable.
    let candidates = [
      Bundle.main.bundleURL.appendingPathComponent("louter"),
      root.appendingPathComponent(".build/debug/louter"),
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[1]
  }

  struct Result {
    let status: Int32
    let stdout: String
    let stderr: String
  }

  static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = root
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
      stderr: String(decoding: stderrData, as: UTF8.self))
  }

  /// Compares with a golden file; `RECORD_SNAPSHOTS=1` records it and fails.
  static func assertSnapshot(_ actual: String, named name: String) {
    let url = fixtures.appendingPathComponent("expected").appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] != nil {
      try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try? Data(actual.utf8).write(to: url)
      Issue.record("recorded \(name); run again without RECORD_SNAPSHOTS")
      return
    }
    let golden = (try? String(contentsOf: url, encoding: .utf8)) ?? "<missing \(name)>"
    #expect(golden == actual, "snapshot \(name) differs")
  }
}

@Suite(.serialized) struct CLITests {
  @Test func versionAndHelpExitZero() throws {
    let version = try CLI.run(["--version"])
    #expect(version.status == 0)
    #expect(version.stdout.hasPrefix("louter "))
    let help = try CLI.run(["--help"])
    #expect(help.status == 0)
    #expect(help.stdout.contains("check [PATH ...]"))
    let codes = try CLI.run(["help", "codes"])
    #expect(codes.status == 0)
    #expect(codes.stdout.contains("L0203  error    a route names a backend that no [backends.NAME] defines"))
    #expect(codes.stdout.split(separator: "\n").count >= 45)
    let checkHelp = try CLI.run(["help", "check"])
    #expect(checkHelp.status == 0)
    #expect(checkHelp.stdout.contains("--deny-warnings"))
  }

  @Test func usageErrorsExit64WithTheUsageLine() throws {
    for arguments in [["frobnicate"], ["check", "--formt", "json"], ["check", "--format", "xml"], ["explain"]] {
      let result = try CLI.run(arguments)
      #expect(result.status == 64, "\(arguments)")
      #expect(result.stderr.hasPrefix("Error: "), "\(arguments)")
      #expect(result.stderr.contains("Usage: "), "\(arguments)")
      #expect(result.stderr.contains("See 'louter --help'"), "\(arguments)")
    }
    #expect(try CLI.run(["check", "--formt", "json"]).stderr.contains("did you mean '--format'?"))
  }

  @Test func checkPassesOnTheRepositoryRoutes() throws {
    let result = try CLI.run(["check", "routes"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("check ok: 5 files"))
    #expect(result.stderr.contains("7 of 7 tests passed"))
  }

  @Test func checkFailsOnABrokenFileAndPointsAtIt() throws {
    let result = try CLI.run(["check", CLI.fixtures.appendingPathComponent("broken.toml").path])
    #expect(result.status == 1)
    #expect(result.stderr.contains("error[L0203]: unknown backend 'opnai'"))
    #expect(result.stderr.contains("broken.toml:6:13"))
    #expect(result.stderr.contains("= help: did you mean 'openai'?"))
    #expect(result.stderr.contains("check failed"))
  }

  @Test func formatsShortJSONAndGitHub() throws {
    let path = CLI.fixtures.appendingPathComponent("broken.toml").path
    let short = try CLI.run(["check", "--format", "short", path])
    #expect(short.stderr.contains("broken.toml:6:13: error[L0203]: unknown backend 'opnai'"))
    let json = try CLI.run(["check", "--format", "json", path])
    #expect(json.status == 1)
    let lines = json.stdout.split(separator: "\n")
    #expect(lines.count >= 2)
    for line in lines {
      #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
    }
    #expect(json.stdout.contains("\"code\":\"L0203\""))
    let github = try CLI.run(["check", "--format", "github", path])
    #expect(github.stdout.contains("::error file="))
    #expect(github.stdout.contains(",line=6,col=13"))
  }

  @Test func denyWarningsTurnsWarningsIntoFailure() throws {
    let path = CLI.fixtures.appendingPathComponent("warning.toml").path
    #expect(try CLI.run(["check", path]).status == 0)
    let denied = try CLI.run(["check", "--deny-warnings", path])
    #expect(denied.status == 1)
    #expect(denied.stderr.contains("warning[L0305]"))
  }

  @Test func explainShowsTheRouteAndWhy() throws {
    let human = try CLI.run(["explain", "--model", "gemini-2.5-pro", "--client", "team-b", "routes"])
    #expect(human.status == 0)
    CLI.assertSnapshot(human.stdout, named: "explain-team-b-pro.txt")
    let json = try CLI.run([
      "explain", "--model", "gemini-2.5-pro", "--key", "gm_demo_team_a_key", "--format", "json", "routes",
    ])
    #expect(json.status == 0)
    CLI.assertSnapshot(json.stdout, named: "explain-team-a-pro.json")
  }

  @Test func explainShowsTheLimitsOfTheClient() throws {
    let limited = try CLI.run(["explain", "--model", "gemini-2.5-flash", "--client", "team-b", "routes"])
    #expect(limited.status == 0)
    #expect(
      limited.stdout.contains(
        "limits: requests_per_minute = 600, requests_per_day = 50000, output_tokens_per_day = 2000000, "
          + "concurrent_streams = 8 (client team-b, counted per replica)\n"), "\(limited.stdout)")
    let json = try CLI.run([
      "explain", "--model", "gemini-2.5-flash", "--client", "team-b", "--format", "json", "routes",
    ])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let limits = object?["limits"] as? [String: Int]
    #expect(limits?["concurrent_streams"] == 8, "\(json.stdout)")
    let unlimited = try CLI.run(["explain", "--model", "gemini-2.5-flash", "--client", "ci-bot", "routes"])
    #expect(unlimited.stdout.contains("limits: none (client ci-bot has no limits)\n"), "\(unlimited.stdout)")
  }

  @Test func dumpIsStableAndRedactsSecrets() throws {
    let first = try CLI.run(["dump", "routes"], environment: ["OPENAI_API_KEY": "sk-live-very-secret"])
    #expect(first.status == 0)
    #expect(!first.stdout.contains("sk-live-very-secret"))
    #expect(first.stdout.contains("<REDACTED>"))
    let second = try CLI.run(["dump", "routes"])
    #expect(first.stdout == second.stdout)
    CLI.assertSnapshot(first.stdout, named: "dump-routes.json")
  }

  @Test func keygenPrintsAFreshKeyAndItsHash() throws {
    var keys: Set<String> = []
    for _ in 0..<3 {
      let result = try CLI.run(["keygen", "--prefix", "sk-"])
      #expect(result.status == 0)
      let lines = result.stdout.split(separator: "\n").map(String.init)
      let key = try #require(lines.first?.split(separator: " ").last.map(String.init))
      #expect(key.hasPrefix("sk-"))
      #expect(key.count == 3 + 43)
      #expect(key.dropFirst(3).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
      let hashLine = try #require(lines.last)
      #expect(hashLine.contains("keys = [\"sha256:"))
      keys.insert(key)
    }
    #expect(keys.count == 3)
    #expect(try CLI.run(["keygen", "--prefix", "bad prefix"]).status == 64)
  }

  @Test func tomlDecodeSpeaksTheToml_testInterface() throws {
    let ok = try CLI.run(["toml-decode"], stdin: "a = 0x10\n[t]\nb = \"x\"\n")
    #expect(ok.status == 0)
    #expect(ok.stdout.contains("{\"type\":\"integer\",\"value\":\"16\"}"))
    let bad = try CLI.run(["toml-decode"], stdin: "a = \n")
    #expect(bad.status == 1)
    #expect(bad.stderr.contains("error[L01"))
  }
}
