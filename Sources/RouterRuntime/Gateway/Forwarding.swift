import RouteCompiler
import RouteSpec

/// The state of forwarding one request along its chain.
struct Forwarding {
  let call: GeminiCall
  let plan: ForwardPlan
  let body: JSONValue
  let key: String?
  let stream: Bool
  /// The request after route actions, decoded once for every translating hop.
  var decoded: GeminiRequest?
  /// The passthrough body, patched once for every Gemini hop.
  var passthroughBody: [UInt8]?
  var failures: [HopFailure] = []

  init(call: GeminiCall, plan: ForwardPlan, body: JSONValue, key: String?, stream: Bool) {
    self.call = call
    self.plan = plan
    self.body = body
    self.key = key
    self.stream = stream
  }
}

/// Why one hop did not serve the request (nothing was sent to the client).
struct HopFailure: Error {
  /// What kind of failure, for the fallback decision and the final status.
  enum Kind: Equatable {
    case connect
    case timeout
    case rateLimited
    case serverError
    case busy
    case notConfigured
    /// The request itself is wrong for this backend: never retried elsewhere.
    case rejected
  }

  let backend: String
  let kind: Kind
  let error: GeminiError
  /// Short text for the request record (`503`, `connect`, `busy`).
  let outcome: String

  /// The route-file trigger this failure is, if any.
  var trigger: FallbackTrigger? {
    switch kind {
    case .connect: .connect
    case .timeout: .timeout
    case .rateLimited: .rateLimited
    case .serverError: .serverError
    case .busy, .notConfigured, .rejected: nil
    }
  }

  /// Busy, cooling-down and unconfigured backends are skipped whatever `fallback_on` says.
  var alwaysFallsThrough: Bool { kind == .busy || kind == .notConfigured }

  /// Whether the failure says something about the backend's health (a 429 is a quota, not a fault).
  var countsAgainstHealth: Bool { kind == .connect || kind == .timeout || kind == .serverError }
}

/// What a hop did.
enum HopResult {
  /// The client got an answer (possibly an in-band error after the stream began); `healthy` feeds passive health.
  case served(healthy: Bool?)
  /// Nothing was sent: the chain may go on.
  case failed(HopFailure)
}

extension Exchange {
  mutating func forward(_ forwarding: inout Forwarding) async {
    let chain = forwarding.plan.chain
    for (position, index) in chain.enumerated() {
      if Task.isCancelled {
        record.status = 499
        return
      }
      let runtime = backends[index]
      if let failure = precheck(runtime, key: forwarding.key, lastResort: position == chain.count - 1) {
        record.hops.append(.init(backend: runtime.backend.name, outcome: failure.outcome))
        forwarding.failures.append(failure)
        continue
      }
      let result: HopResult
      switch runtime.backend.protocolName {
      case .gemini: result = await passthroughHop(runtime, &forwarding)
      case .openai, .echo: result = await translatedHop(runtime, &forwarding)
      }
      switch result {
      case .served(let healthy):
        runtime.health.release(healthy: healthy)
        record.hops.append(.init(backend: runtime.backend.name, outcome: "ok"))
        return
      case .failed(let failure):
        runtime.health.release(healthy: failure.countsAgainstHealth ? false : nil)
        record.hops.append(.init(backend: runtime.backend.name, outcome: failure.outcome))
        forwarding.failures.append(failure)
        let fallsThrough = failure.trigger.map(forwarding.plan.fallbackOn.contains) ?? false
        if fallsThrough, position < chain.count - 1 { continue }
        if !fallsThrough {
          await fail(failure.error, headers: [("x-louter-backend", failure.backend)])
          return
        }
      }
    }
    if Task.isCancelled {
      record.status = 499
      return
    }
    await fail(Self.aggregate(forwarding.failures))
  }

  /// A backend that cannot be tried at all: no key, or no slot.
  func precheck(_ runtime: BackendRuntime, key: String?, lastResort: Bool) -> HopFailure? {
    let backend = runtime.backend
    if backend.protocolName != .echo {
      if backend.forwardKey, key == nil {
        return HopFailure(
          backend: backend.name, kind: .notConfigured,
          error: .unavailable("backend '\(backend.name)' forwards the client's key, but none was presented"),
          outcome: "no-key")
      }
      if !backend.forwardKey, backend.hasAPIKey, (backend.apiKey ?? "").isEmpty {
        return HopFailure(
          backend: backend.name, kind: .notConfigured,
          error: .unavailable("backend '\(backend.name)' has an empty api_key"), outcome: "no-key")
      }
    }
    switch runtime.health.acquire(lastResort: lastResort) {
    case nil:
      return nil
    case .busy(let limit)?:
      return HopFailure(
        backend: backend.name, kind: .busy,
        error: GeminiError(.resourceExhausted, message: "backend '\(backend.name)' is at max_concurrency \(limit)"),
        outcome: "busy")
    case .coolingDown(let remaining)?:
      return HopFailure(
        backend: backend.name, kind: .busy,
        error: .unavailable("backend '\(backend.name)' is cooling down after repeated failures (\(remaining) ms left)"),
        outcome: "cooling-down")
    }
  }

  /// The error for a request every backend failed: the most telling status, and every backend with its reason.
  static func aggregate(_ failures: [HopFailure]) -> GeminiError {
    guard let last = failures.last else { return .unavailable("the route's chain has no usable backend") }
    if failures.count == 1 { return last.error }
    let reasons = failures.map { "\($0.backend): \($0.error.message)" }.joined(separator: "; ")
    let message = "all \(failures.count) backends failed: \(reasons)"
    let kinds = failures.map(\.kind)
    if let first = failures.first?.error, first.code != 499,
      failures.allSatisfy({ $0.error.code == first.code && $0.error.rpc == first.rpc })
    {
      return GeminiError(first.rpc, message: message, httpStatus: first.code)
    }
    if kinds.allSatisfy({ $0 == .rateLimited || $0 == .busy }) {
      return GeminiError(.resourceExhausted, message: message)
    }
    if kinds.allSatisfy({ $0 == .timeout }) { return .deadlineExceeded(message) }
    if kinds.allSatisfy({ $0 == .serverError }) {
      return GeminiError(.unavailable, message: message, httpStatus: 502)
    }
    return .unavailable(message)
  }

  /// A hop failure from a transport error before anything was sent to the client.
  static func failure(_ error: UpstreamError, backend: String) -> HopFailure {
    switch error {
    case .timedOut:
      return HopFailure(
        backend: backend, kind: .timeout, error: .deadlineExceeded("backend '\(backend)': \(error.reason)"),
        outcome: "timeout")
    case .cancelled:
      return HopFailure(
        backend: backend, kind: .rejected,
        error: GeminiError(.cancelled, message: "client went away"),
        outcome: "cancelled")
    case .connectFailed:
      return HopFailure(
        backend: backend, kind: .connect, error: .unavailable("backend '\(backend)': \(error.reason)"),
        outcome: "connect")
    default:
      return HopFailure(
        backend: backend, kind: .connect, error: .unavailable("backend '\(backend)': \(error.reason)"), outcome: "reset"
      )
    }
  }

  /// A hop failure from an upstream HTTP error answer.
  static func failure(status: Int, error: GeminiError, backend: String) -> HopFailure {
    let kind: HopFailure.Kind
    switch status {
    case 429: kind = .rateLimited
    case 408: kind = .timeout
    case 500...599: kind = .serverError
    default: kind = .rejected
    }
    return HopFailure(backend: backend, kind: kind, error: error, outcome: String(status))
  }
}
