import Foundation
import Testing

/// Numeric command-line flags: a bad value is a usage error (exit 64), never a silent default or a trap.
@Suite(.serialized) struct ArgumentTests {
  /// Routes that do not exist: were the flag accepted, serve would stop at loading them with exit 1, not 64.
  static let missingRoutes = "/nonexistent/louter-routes"

  @Test func serveRejectsABadGraceWithAUsageError() throws {
    let bad = ["abc", "", "nan", "inf", "-1", "1e300", "0x10", "3601", " 5", "5s", "1.", ".5", "99999999999999999999"]
    for value in bad {
      let result = try CLI.run(["serve", "--routes", Self.missingRoutes, "--grace", value])
      #expect(result.status == 64, "--grace '\(value)' exited \(result.status)")
      #expect(result.stderr.contains("--grace takes a number from 0 to 3600, got '\(value)'"), "\(result.stderr)")
    }
    let inline = try CLI.run(["serve", "--routes", Self.missingRoutes, "--grace=abc"])
    #expect(inline.status == 64)
  }

  @Test func serveRejectsAnOutOfRangePort() throws {
    for value in ["127.0.0.1:65536", "127.0.0.1:99999999999999999999", "127.0.0.1:-1", "127.0.0.1:abc"] {
      let result = try CLI.run(["serve", "--routes", Self.missingRoutes, "--listen", value])
      #expect(result.status == 64, "--listen '\(value)' exited \(result.status)")
    }
  }

  @Test func serveRejectsABadWorkerCountWithAUsageError() throws {
    for value in ["0", "1025", "2.5", "-1", "abc", "", "1e3", "99999999999999999999"] {
      let result = try CLI.run(["serve", "--routes", Self.missingRoutes, "--workers", value])
      #expect(result.status == 64, "--workers '\(value)' exited \(result.status)")
    }
    // In range: serve goes on to load the (missing) routes and stops there.
    let accepted = try CLI.run(["serve", "--routes", Self.missingRoutes, "--workers", "4"])
    #expect(accepted.status == 1, "\(accepted.stderr)")
  }

  @Test func serveAcceptsAGraceInRange() throws {
    for value in ["0", "2.5", "3600"] {
      // Accepted: serve goes on to load the (missing) routes and stops there.
      let result = try CLI.run(["serve", "--routes", Self.missingRoutes, "--grace", value])
      #expect(result.status == 1, "--grace '\(value)' exited \(result.status): \(result.stderr)")
    }
  }
}
