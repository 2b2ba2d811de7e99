import Synchronization

/// Per-backend admission: the in-flight limit (`max_concurrency`) and passive health.
///
/// Passive health is a small circuit breaker: after `failureThreshold` failures in a row the
/// backend is skipped for `coolDown`; then one request is let through (half-open). Its success
/// closes the circuit, its failure opens it again.
public final class BackendHealth: Sendable {
  /// Why a backend cannot take a request now.
  public enum Refusal: Sendable, Equatable {
    /// At `max_concurrency`.
    case busy(limit: Int)
    /// Skipped after repeated failures, for this many more milliseconds.
    case coolingDown(remainingMilliseconds: Int64)
  }

  struct State {
    var inFlight = 0
    var consecutiveFailures = 0
    var openUntil: MonotonicInstant?
    var probeInFlight = false
  }

  /// Most requests in flight at once.
  public let limit: Int
  /// Failures in a row that open the circuit.
  public let failureThreshold: Int
  /// How long an open circuit skips the backend.
  public let coolDown: Duration
  /// The time `acquire` and `release` go by when not given one (tests inject their own).
  public let clock: @Sendable () -> MonotonicInstant
  private let state = Mutex(State())

  /// Creates the admission state of one backend.
  public init(
    limit: Int, failureThreshold: Int = 3, coolDown: Duration = .seconds(10),
    clock: @escaping @Sendable () -> MonotonicInstant = { .now }
  ) {
    self.limit = limit
    self.failureThreshold = failureThreshold
    self.coolDown = coolDown
    self.clock = clock
  }

  /// Takes a slot, or says why not. A granted slot must be given back with `release`.
  ///
  /// `lastResort` ignores an open circuit: when no other backend is left to try, asking this one
  /// beats answering 503 without trying.
  public func acquire(now: MonotonicInstant? = nil, lastResort: Bool = false) -> Refusal? {
    let now = now ?? clock()
    return state.withLock { state in
      if let openUntil = state.openUntil, !lastResort {
        if now < openUntil {
          let remaining = now.duration(to: openUntil).components
          return .coolingDown(
            remainingMilliseconds: remaining.seconds * 1000 + remaining.attoseconds / 1_000_000_000_000_000)
        }
        // Half-open: one probe at a time decides whether the backend is back.
        if state.probeInFlight { return .coolingDown(remainingMilliseconds: 0) }
        state.probeInFlight = true
      }
      if state.inFlight >= limit {
        if state.openUntil != nil { state.probeInFlight = false }
        return .busy(limit: limit)
      }
      state.inFlight += 1
      return nil
    }
  }

  /// Gives a slot back; `healthy` false counts a failure (connect, timeout, 5xx, 429), nil says nothing about health.
  public func release(healthy: Bool?, now: MonotonicInstant? = nil) {
    let now = now ?? clock()
    state.withLock { state in
      state.inFlight -= 1
      guard let healthy else {
        state.probeInFlight = false
        return
      }
      if healthy {
        state.consecutiveFailures = 0
        state.openUntil = nil
        state.probeInFlight = false
      } else {
        state.consecutiveFailures += 1
        if state.consecutiveFailures >= failureThreshold || state.probeInFlight {
          state.openUntil = now.advanced(by: coolDown)
        }
        state.probeInFlight = false
      }
    }
  }

  /// Requests in flight now.
  public var inFlight: Int { state.withLock { $0.inFlight } }

  /// Where the circuit is.
  public enum Circuit: String, Sendable, Equatable, CaseIterable {
    /// Taking requests.
    case closed
    /// Skipped after repeated failures until the cool-down ends.
    case open
    /// The cool-down is over: the next request (one at a time) decides.
    case halfOpen = "half_open"
  }

  /// A read-only copy of the state at one instant.
  public struct Snapshot: Sendable, Equatable {
    /// Requests in flight.
    public let inFlight: Int
    /// `max_concurrency`.
    public let limit: Int
    /// Failures in a row.
    public let consecutiveFailures: Int
    /// Where the circuit is.
    public let circuit: Circuit
    /// Milliseconds of cool-down left (0 unless open).
    public let coolDownRemainingMilliseconds: Int64
  }

  /// The state now (or at `now`), read under the lock; nothing changes.
  public func snapshot(now: MonotonicInstant? = nil) -> Snapshot {
    let now = now ?? clock()
    return state.withLock { state in
      var circuit = Circuit.closed
      var remaining: Int64 = 0
      if let openUntil = state.openUntil {
        if now < openUntil {
          circuit = .open
          let left = now.duration(to: openUntil).components
          remaining = left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000
        } else {
          circuit = .halfOpen
        }
      }
      return Snapshot(
        inFlight: state.inFlight, limit: limit, consecutiveFailures: state.consecutiveFailures, circuit: circuit,
        coolDownRemainingMilliseconds: remaining)
    }
  }
}
