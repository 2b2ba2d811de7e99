import Glibc
import Testing

@testable import RouterRuntime

/// The signal thread's notices (`louter: shutting down`, reload results) must never block it on a stderr
/// pipe that nobody reads, or SIGTERM would never finish.
@Suite struct SignalNoticeTests {
  /// A pipe whose write end is made full; returns (read, write).
  static func fullPipe() throws -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
    let chunk = [UInt8](repeating: 0x61, count: 4096)
    while chunk.withUnsafeBytes({ write(fds[1], $0.baseAddress, $0.count) }) > 0 {}
    return (fds[0], fds[1])
  }

  @Test func aNoticeToAFullPipeIsDroppedAtOnce() throws {
    let (reader, writer) = try Self.fullPipe()
    defer {
      close(reader)
      close(writer)
    }
    // Made blocking again, as stderr is: a plain write would now wait for a reader forever.
    _ = fcntl(writer, F_SETFL, 0)
    #expect(Posix.writeIfReady(fd: writer, line: "louter: shutting down\n") == false)
  }

  @Test func aNoticeToAPipeWithRoomIsWrittenWhole() throws {
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    defer {
      close(fds[0])
      close(fds[1])
    }
    #expect(Posix.writeIfReady(fd: fds[1], line: "louter: reloaded 7 routes\n"))
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
    #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "louter: reloaded 7 routes\n")
  }

  @Test func aNoticeLongerThanAnAtomicPipeWriteIsRefused() {
    #expect(Posix.writeIfReady(fd: STDERR_FILENO, line: String(repeating: "x", count: 5000)) == false)
  }
}
