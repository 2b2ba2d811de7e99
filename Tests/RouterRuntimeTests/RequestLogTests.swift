import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import RouterRuntime

/// A pipe: the test holds both ends and closes what the code under test does not own.
private struct TestPipe {
  let readEnd: Int32
  let writeEnd: Int32

  init() throws {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw IOError(errno: errno, function: "pipe") }
    readEnd = ends[0]
    writeEnd = ends[1]
  }
}

/// Reads a descriptor to end of file on a thread of its own; `wait()` returns everything read.
private final class Drain: Sendable {
  private let bytes = Mutex<[UInt8]>([])
  private let done = DispatchSemaphore(value: 0)

  init(_ fd: Int32) {
    let thread = Thread { [self] in
      var chunk = [UInt8](repeating: 0, count: 65_536)
      while true {
        let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        bytes.withLock { $0.append(contentsOf: chunk[..<count]) }
      }
      Glibc.close(fd)
      done.signal()
    }
    thread.start()
  }

  /// Everything read, once the writer side is closed.
  func wait() -> [String] {
    done.wait()
    return bytes.withLock { String(decoding: $0, as: UTF8.self) }.split(separator: "\n").map(String.init)
  }
}

/// The request log is written by its own thread from a bounded queue: a reader that stalls costs dropped
/// lines, never a blocked caller (the event loop).
@Suite(.timeLimit(.minutes(2))) struct RequestLogTests {
  static func record(_ number: Int) -> RequestRecord {
    var record = RequestRecord(id: "r\(number)")
    record.route = "default"
    record.status = 200
    return record
  }

  /// Logs the records numbered `numbers` on a thread of its own (so that a blocked call cannot block the
  /// test); the semaphore is signalled when every call has returned.
  static func logOnAThread(_ log: RequestLog, _ numbers: Range<Int>) -> DispatchSemaphore {
    let returned = DispatchSemaphore(value: 0)
    let caller = Thread {
      for number in numbers { log.log(Self.record(number)) }
      returned.signal()
    }
    caller.start()
    return returned
  }

  /// Whether the calls returned while nobody reads. A safety net rather than a measurement: they take
  /// seconds; blocked on a full pipe they never return (and the test fails instead of hanging).
  static func returns(_ returned: DispatchSemaphore) -> Bool {
    let didReturn = returned.wait(timeout: .now() + .seconds(60)) == .success
    #expect(didReturn, "logging returned while nobody read the pipe")
    return didReturn
  }

  /// The record numbers in the JSON lines, in the order they arrived.
  static func numbers(_ lines: [String]) throws -> [Int] {
    try lines.map { line in
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let id = try #require(object["id"] as? String)
      return try #require(Int(id.dropFirst()))
    }
  }

  @Test func everyLineArrivesInOrderWhenTheReaderKeepsUp() throws {
    let json = try TestPipe()
    let verbose = try TestPipe()
    let notices = try TestPipe()
    let jsonLines = Drain(json.readEnd)
    let verboseLines = Drain(verbose.readEnd)
    let noticeLines = Drain(notices.readEnd)
    let log = RequestLog(verboseFD: verbose.writeEnd, jsonFD: json.writeEnd, noticeFD: notices.writeEnd)
    for number in 0..<10_000 { log.log(Self.record(number)) }
    #expect(log.close(deadline: .distantFuture))
    Glibc.close(json.writeEnd)
    Glibc.close(verbose.writeEnd)
    Glibc.close(notices.writeEnd)

    #expect(try Self.numbers(jsonLines.wait()) == Array(0..<10_000))
    let verboseText = verboseLines.wait()
    #expect(verboseText.count == 10_000)
    #expect(verboseText.first == Self.record(0).line)
    #expect(verboseText.last == Self.record(9_999).line)
    #expect(log.droppedLines == 0)
    #expect(noticeLines.wait().isEmpty)
  }

  @Test func aReaderThatNeverReadsCostsDroppedLinesNotABlockedCaller() throws {
    let json = try TestPipe()
    let notices = try TestPipe()
    let log = RequestLog(verboseFD: nil, jsonFD: json.writeEnd, noticeFD: notices.writeEnd)
    // 100,000 lines of about 300 bytes: far past the 64 KiB pipe buffer and the 4 MiB queue. With writes on
    // the caller's thread the first full pipe would block the logging thread until a reader shows up.
    let total = 100_000
    let returned = Self.logOnAThread(log, 0..<total)
    let callsReturned = Self.returns(returned)
    let dropped = log.droppedLines
    #expect(dropped > 0)

    // The reader shows up: what was kept arrives, in order, then the notice of what was not.
    let jsonLines = Drain(json.readEnd)
    let noticeLines = Drain(notices.readEnd)
    if !callsReturned { returned.wait() }
    #expect(log.close(deadline: .distantFuture))
    Glibc.close(json.writeEnd)
    Glibc.close(notices.writeEnd)

    let kept = try Self.numbers(jsonLines.wait())
    #expect(kept.first == 0)
    #expect(zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 }, "kept lines are in order, none twice")
    #expect(kept.count + dropped == total)
    #expect(log.droppedLines == dropped)
    #expect(noticeLines.wait() == [LogLineWriter.dropNotice(dropped)])
  }

  @Test func shutdownGivesUpOnAStalledReaderAtItsDeadline() throws {
    let json = try TestPipe()
    let notices = try TestPipe()
    let log = RequestLog(verboseFD: nil, jsonFD: json.writeEnd, noticeFD: notices.writeEnd, capacityBytes: 1 << 20)
    let returned = Self.logOnAThread(log, 0..<10_000)
    let callsReturned = Self.returns(returned)
    // Nobody reads: the writer is blocked in write(2), and close returns at its deadline, unfinished.
    #expect(!log.close(deadline: .now() + .milliseconds(100)))
    #expect(!log.flush(deadline: .now()))

    // Once a reader appears, the writer finishes and stops; lines logged after close are dropped.
    let jsonLines = Drain(json.readEnd)
    let noticeLines = Drain(notices.readEnd)
    if !callsReturned { returned.wait() }
    let dropped = log.droppedLines
    log.log(Self.record(10_000))
    #expect(log.droppedLines == dropped + 1)
    #expect(log.close(deadline: .distantFuture))
    Glibc.close(json.writeEnd)
    Glibc.close(notices.writeEnd)
    #expect(try Self.numbers(jsonLines.wait()).count == 10_000 - dropped)
    #expect(noticeLines.wait() == (dropped > 0 ? [LogLineWriter.dropNotice(dropped)] : []))
  }

  @Test func aReaderThatWentAwayIsReportedOnceAndLaterLinesAreDropped() throws {
    let json = try TestPipe()
    let notices = try TestPipe()
    Glibc.close(json.readEnd)
    let noticeLines = Drain(notices.readEnd)
    let log = RequestLog(verboseFD: nil, jsonFD: json.writeEnd, noticeFD: notices.writeEnd)
    log.log(Self.record(0))
    #expect(log.flush(deadline: .distantFuture))
    for number in 1...100 { log.log(Self.record(number)) }
    #expect(log.close(deadline: .distantFuture))
    Glibc.close(json.writeEnd)
    Glibc.close(notices.writeEnd)
    #expect(log.droppedLines == 101)
    let reported = noticeLines.wait()
    #expect(reported.count == 1)
    #expect(reported.first?.hasPrefix("louter: request log: cannot write (write: ") == true)
  }

  @Test func aFlushOfAnIdleLogReturnsAtOnce() {
    let log = RequestLog(verboseFD: nil, jsonFD: nil)
    #expect(log.flush(deadline: .distantFuture))
    #expect(log.close(deadline: .distantFuture))
  }
}
