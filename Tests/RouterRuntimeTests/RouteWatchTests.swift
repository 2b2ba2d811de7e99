import Foundation
import Glibc
import RouteSpec
import Testing

@testable import RouterRuntime

/// `serve --watch`: the debounce (pure, instants injected), the inotify record parser, `/readyz`'s body, and one
/// watcher on a real temporary folder (synchronised on its reload callback, never on time).
@Suite struct RouteWatchTests {
  private static let origin = MonotonicInstant.now
  private static func at(_ milliseconds: Int) -> MonotonicInstant { origin + .milliseconds(milliseconds) }

  /// `fire` outside `#expect`, which cannot take a mutating call.
  private static func fire(_ debounce: inout ReloadDebounce, at instant: MonotonicInstant) -> Bool {
    debounce.fire(at: instant)
  }

  @Test func nothingPendingNeverFiresAndWaitsWithoutLimit() {
    var debounce = ReloadDebounce(quiet: .milliseconds(100), longest: .seconds(1))
    #expect(debounce.deadline == nil)
    #expect(debounce.waitMilliseconds(at: Self.at(0)) == -1)
    #expect(!Self.fire(&debounce, at: Self.at(10_000)))
  }

  @Test func oneChangeFiresOnceAfterTheQuietPeriod() {
    var debounce = ReloadDebounce(quiet: .milliseconds(100), longest: .seconds(1))
    debounce.changed(at: Self.at(0))
    #expect(debounce.waitMilliseconds(at: Self.at(40)) == 60)
    #expect(!Self.fire(&debounce, at: Self.at(99)))
    #expect(Self.fire(&debounce, at: Self.at(100)))
    #expect(!Self.fire(&debounce, at: Self.at(200)))
    #expect(debounce.deadline == nil)
  }

  @Test func aBurstReloadsOnceAfterItsLastChange() {
    var debounce = ReloadDebounce(quiet: .milliseconds(100), longest: .seconds(1))
    for step in stride(from: 0, through: 300, by: 50) {
      debounce.changed(at: Self.at(step))
      #expect(!Self.fire(&debounce, at: Self.at(step)))
    }
    #expect(!Self.fire(&debounce, at: Self.at(399)))
    #expect(Self.fire(&debounce, at: Self.at(400)))
  }

  @Test func aFolderThatNeverGoesQuietIsReloadedByTheLongestWait() {
    var debounce = ReloadDebounce(quiet: .milliseconds(100), longest: .milliseconds(500))
    var fired: [Int] = []
    for step in stride(from: 0, through: 1200, by: 50) {
      if debounce.fire(at: Self.at(step)) { fired.append(step) }
      debounce.changed(at: Self.at(step))
    }
    #expect(fired == [500, 1000])
  }

  @Test func theWaitRoundsUpAndIsBounded() {
    var debounce = ReloadDebounce(quiet: .seconds(7200), longest: .seconds(7200))
    debounce.changed(at: Self.at(0))
    #expect(debounce.waitMilliseconds(at: Self.at(0)) == 3_600_000)
    var short = ReloadDebounce(quiet: .microseconds(1500), longest: .seconds(1))
    short.changed(at: Self.at(0))
    #expect(short.waitMilliseconds(at: Self.at(0)) == 2)
    #expect(short.waitMilliseconds(at: Self.at(5)) == 0)
  }

  @Test func onlyRouteFilesTheFolderAndConfigMapSwapsMatter() {
    #expect(FolderEvent(name: "10-routes.toml", watchEnded: false).touchesRoutes)
    #expect(FolderEvent(name: "", watchEnded: false).touchesRoutes)
    #expect(FolderEvent(name: "..data", watchEnded: false).touchesRoutes)
    #expect(!FolderEvent(name: ".10-routes.toml.swp", watchEnded: false).touchesRoutes)
    #expect(!FolderEvent(name: "notes.md", watchEnded: false).touchesRoutes)
  }

  /// One `struct inotify_event` in the machine's byte order, its name NUL-padded to `padded` bytes.
  private static func record(mask: UInt32, name: String, padded: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for word in [UInt32(1), mask, 0, UInt32(padded)] { withUnsafeBytes(of: word) { bytes += $0 } }
    let nameBytes = Array(name.utf8)
    return bytes + nameBytes + [UInt8](repeating: 0, count: padded - nameBytes.count)
  }

  @Test func inotifyRecordsAreParsedAndATruncatedOneIsDropped() {
    let bytes =
      Self.record(mask: UInt32(IN_CLOSE_WRITE), name: "a.toml", padded: 16)
      + Self.record(mask: UInt32(IN_IGNORED), name: "", padded: 0)
      + Self.record(mask: UInt32(IN_MOVED_TO), name: "b.toml", padded: 4096)
    let events = FolderEventRecords.events(in: bytes[0..<(bytes.count - 1)])
    #expect(
      events == [FolderEvent(name: "a.toml", watchEnded: false), FolderEvent(name: "", watchEnded: true)])
  }

  @Test func readinessReportsTheLastReload() {
    #expect(
      ReadinessEndpoint.body(routes: 3, last: nil) == .object([JSONMember("status", "ready"), JSONMember("routes", 3)]))
    let refused = ReloadOutcome(succeeded: false, errors: 2, trigger: .watch, unixTime: 1_700_000_000)
    #expect(
      ReadinessEndpoint.body(routes: 3, last: refused)
        == .object([
          JSONMember("status", "ready"), JSONMember("routes", 3),
          JSONMember(
            "last_reload",
            .object([
              JSONMember("succeeded", false), JSONMember("errors", 2), JSONMember("trigger", "watch"),
              JSONMember("time", 1_700_000_000),
            ])),
        ]))
  }

  @Test func aWatcherReloadsWhenARouteFileIsWrittenAndStops() async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "louter-watch-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let (reloads, continuation) = AsyncStream.makeStream(of: Void.self)
    let watcher = try RouteFolderWatcher(
      folder: folder.path, debounce: ReloadDebounce(quiet: .milliseconds(1), longest: .milliseconds(1))
    ) { continuation.yield() }
    // Not a route file: no reload; the route file written after it is what the first reload answers.
    try Data("x".utf8).write(to: folder.appendingPathComponent("notes.md"))
    try Data("[server]\n".utf8).write(to: folder.appendingPathComponent("00-server.toml"))
    var iterator = reloads.makeAsyncIterator()
    let first: Void? = await iterator.next()
    #expect(first != nil)
    watcher.stop()
    watcher.stop()
    continuation.finish()
  }
}
