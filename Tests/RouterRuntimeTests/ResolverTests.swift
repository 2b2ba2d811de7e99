import Dispatch
import Glibc
import Synchronization
import Testing

@testable import RouterRuntime

/// A clock the test moves by hand.
private final class ResolverClock: Sendable {
  private let instant = Mutex(MonotonicInstant.now)
  var now: MonotonicInstant { instant.withLock { $0 } }
  func advance(by duration: Duration) { instant.withLock { $0 += duration } }
}

/// Deadline timers that fire only when the test says so.
private final class ManualTimer: Sendable {
  private let pending = Mutex<[(delay: Duration, action: @Sendable () -> Void)]>([])
  var timer: Resolver.Timer { { delay, action in self.pending.withLock { $0.append((delay, action)) } } }
  var delays: [Duration] { pending.withLock { $0.map(\.delay) } }

  /// Fires every timer scheduled so far.
  func fireAll() {
    let actions = pending.withLock { pending in
      defer { pending.removeAll() }
      return pending.map(\.action)
    }
    for action in actions { action() }
  }
}

/// A lookup that records the names asked for and answers from a table; names in `blocked` wait for `release`.
private final class ScriptedLookup: Sendable {
  private let calls = Mutex<[String]>([])
  private let answers: [String: Resolver.Answer]
  private let blocked: Set<String>
  private let gate = DispatchSemaphore(value: 0)

  init(answers: [String: Resolver.Answer] = [:], blocked: Set<String> = []) {
    self.answers = answers
    self.blocked = blocked
  }

  var names: [String] { calls.withLock { $0 } }

  var lookup: Resolver.Lookup {
    { name in
      self.calls.withLock { $0.append(name) }
      if self.blocked.contains(name) { self.gate.wait() }
      return self.answers[name] ?? .failure(.notFound(name))
    }
  }

  /// Lets `count` blocked lookups return.
  func release(_ count: Int = 1) { for _ in 0..<count { gate.signal() } }
}

private func literal(_ text: String, port: UInt16 = 0) -> SocketAddress {
  guard let address = SocketAddress(literal: text, port: port) else {
    Issue.record("not a literal: \(text)")
    return .ipv4(in_addr(), port: 0)
  }
  return address
}

/// Waits (yielding, not sleeping) until `condition` holds; gives up after many turns so that a broken
/// resolver fails the test instead of hanging it.
private func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async {
  for _ in 0..<5_000_000 {
    if condition() { return }
    await Task.yield()
  }
  Issue.record("condition never held", sourceLocation: sourceLocation)
}

@Suite struct ResolverTests {
  static let answer: Resolver.Answer = .success([literal("10.0.0.7"), literal("fd00::7")])

  @Test(arguments: [
    ("127.0.0.1", "127.0.0.1:8080"),
    ("0.0.0.0", "0.0.0.0:8080"),
    ("::1", "[::1]:8080"),
    ("[::1]", "[::1]:8080"),
    ("[2001:db8::1]", "[2001:db8::1]:8080"),
    ("::ffff:10.1.2.3", "[::ffff:10.1.2.3]:8080"),
  ])
  func literalsParse(text: String, description: String) {
    #expect(SocketAddress(literal: text, port: 8080)?.description == description)
  }

  @Test(arguments: [
    "", "localhost", "example.com", "127.1", "1.2.3", "256.0.0.1", "0x7f.0.0.1", " 127.0.0.1", "127.0.0.1 ",
    "127.0.0.1\0junk", "[127.0.0.1]", "[::1", "::1]", "[]", "[[::1]]", ":::1", "fe80::1%eth0", "[fe80::1%25eth0]",
    String(repeating: "1", count: 100),
    // Read as bytes: a combining mark makes a bracket no bracket as a `Character`, and no literal either way.
    "[\u{301}::1]", "[::1]\u{301}", "127.0.0.1\u{301}", "\u{FF11}27.0.0.1",
  ])
  func garbageIsNotALiteral(text: String) {
    #expect(SocketAddress(literal: text, port: 80) == nil)
  }

  @Test func addressesCompareByBytesAndScope() {
    #expect(literal("::1", port: 1) == literal("[::1]", port: 1))
    #expect(literal("::1", port: 1) != literal("::1", port: 2))
    #expect(literal("::1", port: 1) != .ipv6(literal("::1").ipv6Bytes, port: 1, scopeID: 3))
    #expect(SocketAddress.ipv6(literal("fe80::1").ipv6Bytes, port: 80, scopeID: 3).description == "[fe80::1%3]:80")
    #expect(Set([literal("10.0.0.1", port: 1), literal("10.0.0.1", port: 1), literal("10.0.0.2", port: 1)]).count == 2)
  }

  @Test func literalsAndInvalidInputAreAnsweredWithoutLookup() async {
    let lookup = ScriptedLookup()
    let resolver = Resolver(lookup: lookup.lookup, timer: ManualTimer().timer)
    #expect(await resolver.resolve("[::1]", port: 443) == .success([literal("::1", port: 443)]))
    #expect(resolver.cached(host: "127.0.0.1", port: 80) == .success([literal("127.0.0.1", port: 80)]))
    #expect(await resolver.resolve("example.com", port: 0) == .failure(.invalidPort(0)))
    #expect(await resolver.resolve("example.com", port: 65_536) == .failure(.invalidPort(65_536)))
    #expect(await resolver.resolve("exa mple.com", port: 80) == .failure(.invalidHost("exa mple.com")))
    #expect(await resolver.resolve("a\0b", port: 80) == .failure(.invalidHost("a\0b")))
    #expect(await resolver.resolve("[not-v6]", port: 80) == .failure(.invalidHost("[not-v6]")))
    #expect(Posix.lookup(host: "a\0b", port: 80) == .failure(.invalidHost("a\0b")))
    #expect(lookup.names.isEmpty)
  }

  @Test func answersAreReusedForTheirTTLThenLookedUpAgain() async {
    let clock = ResolverClock()
    let timers = ManualTimer()
    let lookup = ScriptedLookup(answers: ["api.example": Self.answer])
    let resolver = Resolver(clock: { clock.now }, lookup: lookup.lookup, timer: timers.timer)

    #expect(resolver.cached(host: "api.example", port: 80) == nil)
    #expect(await resolver.resolve("api.example", port: 80) == Self.answer.map { $0.map { $0.withPort(80) } })
    // The deadline of a lookup that already answered changes nothing.
    #expect(timers.delays == [.seconds(5)])
    timers.fireAll()
    clock.advance(by: .seconds(29))
    // Another port and another spelling of the name share the answer.
    #expect(await resolver.resolve("API.example", port: 443) == Self.answer.map { $0.map { $0.withPort(443) } })
    #expect(resolver.cached(host: "api.example", port: 8080) == Self.answer.map { $0.map { $0.withPort(8080) } })
    #expect(lookup.names == ["api.example"])

    clock.advance(by: .seconds(1))
    #expect(resolver.cached(host: "api.example", port: 80) == nil)
    _ = await resolver.resolve("api.example", port: 80)
    #expect(lookup.names == ["api.example", "api.example"])
  }

  @Test func failuresAreReusedForTheShortNegativeTTL() async {
    let clock = ResolverClock()
    let lookup = ScriptedLookup()
    let resolver = Resolver(clock: { clock.now }, lookup: lookup.lookup, timer: ManualTimer().timer)

    #expect(await resolver.resolve("gone.example", port: 80) == .failure(.notFound("gone.example")))
    clock.advance(by: .milliseconds(1_999))
    #expect(resolver.cached(host: "gone.example", port: 80) == .failure(.notFound("gone.example")))
    #expect(await resolver.resolve("gone.example", port: 80) == .failure(.notFound("gone.example")))
    #expect(lookup.names == ["gone.example"])

    clock.advance(by: .milliseconds(1))
    #expect(resolver.cached(host: "gone.example", port: 80) == nil)
    _ = await resolver.resolve("gone.example", port: 80)
    #expect(lookup.names == ["gone.example", "gone.example"])
  }

  @Test func concurrentRequestsShareOneLookup() async {
    let lookup = ScriptedLookup(answers: ["api.example": Self.answer], blocked: ["api.example"])
    let resolver = Resolver(lookup: lookup.lookup, timer: ManualTimer().timer)

    async let first = resolver.resolve("api.example", port: 80)
    async let second = resolver.resolve("api.example", port: 443)
    await eventually { resolver.waiters(for: "api.example") == 2 }
    lookup.release()
    let (one, two) = await (first, second)
    #expect(one == Self.answer.map { $0.map { $0.withPort(80) } })
    #expect(two == Self.answer.map { $0.map { $0.withPort(443) } })
    #expect(lookup.names == ["api.example"])
  }

  @Test func atMostTheConfiguredNumberOfLookupsRunAtOnce() async {
    let lookup = ScriptedLookup(answers: ["a.example": Self.answer, "b.example": Self.answer], blocked: ["a.example"])
    let resolver = Resolver(limits: .init(concurrentLookups: 1), lookup: lookup.lookup, timer: ManualTimer().timer)

    async let first = resolver.resolve("a.example", port: 80)
    await eventually { lookup.names == ["a.example"] }
    async let second = resolver.resolve("b.example", port: 80)
    await eventually { resolver.waiters(for: "b.example") == 1 }
    #expect(lookup.names == ["a.example"])
    #expect(resolver.runningLookups == 1)
    lookup.release()
    _ = await (first, second)
    #expect(lookup.names == ["a.example", "b.example"])
    #expect(resolver.runningLookups == 0)
  }

  @Test func theCacheKeepsAtMostItsCapacityEvictingTheOldest() async {
    let names = ["a.example", "b.example", "c.example"]
    let lookup = ScriptedLookup(answers: Dictionary(uniqueKeysWithValues: names.map { ($0, Self.answer) }))
    let resolver = Resolver(limits: .init(capacity: 2), lookup: lookup.lookup, timer: ManualTimer().timer)

    for name in names { _ = await resolver.resolve(name, port: 80) }
    #expect(resolver.cachedNames == 2)
    #expect(resolver.cached(host: "a.example", port: 80) == nil)
    #expect(resolver.cached(host: "b.example", port: 80) != nil)
    #expect(resolver.cached(host: "c.example", port: 80) != nil)
    _ = await resolver.resolve("a.example", port: 80)
    #expect(lookup.names == names + ["a.example"])
    #expect(resolver.cached(host: "b.example", port: 80) == nil)
    #expect(resolver.cachedNames == 2)

    // Refreshing one name many times keeps the bookkeeping bounded and the other name cached.
    let clock = ResolverClock()
    let refreshed = Resolver(
      limits: .init(capacity: 2), clock: { clock.now }, lookup: lookup.lookup,
      timer: ManualTimer().timer)
    _ = await refreshed.resolve("b.example", port: 80)
    for _ in 0..<10 {
      clock.advance(by: .seconds(30))
      _ = await refreshed.resolve("a.example", port: 80)
      #expect(refreshed.cachedNames == 2)
    }
  }

  @Test func aLookupPastItsDeadlineFailsItsWaitersAndItsLateAnswerIsDropped() async {
    let clock = ResolverClock()
    let timers = ManualTimer()
    let lookup = ScriptedLookup(answers: ["slow.example": Self.answer], blocked: ["slow.example"])
    let resolver = Resolver(clock: { clock.now }, lookup: lookup.lookup, timer: timers.timer)
    let timedOut = Resolver.Answer.failure(.timedOut("slow.example", after: .seconds(5)))

    async let first = resolver.resolve("slow.example", port: 80)
    async let second = resolver.resolve("slow.example", port: 80)
    await eventually { resolver.waiters(for: "slow.example") == 2 }
    #expect(timers.delays == [.seconds(5)])
    timers.fireAll()
    let (one, two) = await (first, second)
    #expect(one == timedOut)
    #expect(two == timedOut)
    #expect(resolver.cached(host: "slow.example", port: 80) == timedOut)

    // The stuck call returns at last: its slot is freed, its answer discarded.
    lookup.release()
    await eventually { resolver.runningLookups == 0 }
    #expect(resolver.cached(host: "slow.example", port: 80) == timedOut)

    clock.advance(by: .seconds(2))
    async let retry = resolver.resolve("slow.example", port: 80)
    await eventually { lookup.names.count == 2 }
    lookup.release()
    #expect(await retry == Self.answer.map { $0.map { $0.withPort(80) } })
  }

  @Test func localhostResolvesToLoopbackAndConnects() async throws {
    let loopback = [literal("127.0.0.1"), literal("::1")]
    let direct = try Posix.lookup(host: "localhost", port: 0).get()
    #expect(!direct.isEmpty && direct.allSatisfy(loopback.contains))
    // Listen on whichever loopback address the system prefers, then resolve and connect to it.
    let preferred = try #require(direct.first)
    let listener = try Posix.listen(on: preferred)
    defer { Posix.close(listener.fd) }
    let port = try #require(UInt16(exactly: listener.port))

    let answer = try await Resolver().resolve("localhost", port: listener.port).get()
    #expect(answer == direct.map { $0.withPort(port) })
    try connectAndAccept(try #require(answer.first), listener: listener.fd)
  }

  @Test func connectsOverIPv6() throws {
    let listener = try Posix.listen(on: literal("[::1]", port: 0))
    defer { Posix.close(listener.fd) }
    let port = try #require(UInt16(exactly: listener.port))
    try connectAndAccept(literal("[::1]", port: port), listener: listener.fd)
  }

  @Test func listeningOnATakenPortFails() throws {
    let listener = try Posix.listen(on: literal("127.0.0.1", port: 0))
    defer { Posix.close(listener.fd) }
    let port = try #require(UInt16(exactly: listener.port))
    #expect(port != 0)
    #expect(throws: IOError.self) { try Posix.listen(on: literal("127.0.0.1", port: port)) }
    do {
      _ = try Posix.listen(on: literal("127.0.0.1", port: port))
    } catch {
      #expect(error.errno == EADDRINUSE && error.function == "bind")
    }
  }

  @Test func connectingToAClosedPortFails() throws {
    let listener = try Posix.listen(host: "127.0.0.1", port: 0)
    let port = try #require(UInt16(exactly: listener.port))
    Posix.close(listener.fd)
    let (fd, result) = try Posix.connect(to: literal("127.0.0.1", port: port))
    defer { Posix.close(fd) }
    if case .wouldBlock = result {
      var waiter = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      #expect(poll(&waiter, 1, 10_000) == 1)
    }
    #expect(Posix.socketError(fd)?.errno == ECONNREFUSED)
  }

  /// Connects to `address`, waits for the connection to complete, and accepts it on `listener`.
  private func connectAndAccept(_ address: SocketAddress, listener: Int32) throws {
    let (fd, result) = try Posix.connect(to: address)
    defer { Posix.close(fd) }
    if case .wouldBlock = result {
      var waiter = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      #expect(poll(&waiter, 1, 10_000) == 1)
    }
    #expect(Posix.socketError(fd) == nil)
    var noDelay: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &length)
    #expect(noDelay != 0)
    var incoming = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    #expect(poll(&incoming, 1, 10_000) == 1)
    guard case .done(let accepted) = try Posix.accept(listener) else {
      Issue.record("no connection to accept")
      return
    }
    Posix.close(accepted)
  }
}

extension SocketAddress {
  /// The IPv6 bytes of an IPv6 address (zero for IPv4), to build scoped variants in tests.
  fileprivate var ipv6Bytes: in6_addr {
    if case .ipv6(let address, _, _) = self { return address }
    return in6_addr()
  }
}
