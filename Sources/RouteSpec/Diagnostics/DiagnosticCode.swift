/// The catalogue of every diagnostic louter can print, with its stable code.
///
/// Codes never change meaning once released. Ranges: L01xx TOML syntax,
/// L02xx route-file model, L03xx semantic checks, L04xx route tests,
/// L05xx files and environment.
public enum DiagnosticCode: String, Sendable, CaseIterable, Hashable {
  // TOML syntax (RouteSpec.TOMLParser)
  case invalidEncoding = "L0101"
  case unexpectedToken = "L0102"
  case unterminatedString = "L0103"
  case invalidEscape = "L0104"
  case invalidNumber = "L0105"
  case numberOutOfRange = "L0106"
  case invalidDateTime = "L0107"
  case duplicateKey = "L0108"
  case tableRedefined = "L0109"
  case nestingTooDeep = "L0110"
  case expectedNewline = "L0111"
  case invalidKey = "L0112"

  // Route-file model (RouteSpec.RouteFileDecoder)
  case unknownKey = "L0201"
  case wrongType = "L0202"
  case unknownBackend = "L0203"
  case unknownClient = "L0204"
  case duplicateName = "L0205"
  case invalidValue = "L0206"
  case missingField = "L0207"
  case invalidDuration = "L0208"
  case invalidSize = "L0209"
  case invalidURL = "L0210"
  case invalidGlob = "L0211"
  case unsupportedVersion = "L0212"
  case invalidAddress = "L0213"
  case plainTextKey = "L0214"
  case invalidHeaderName = "L0215"
  case emptyValue = "L0216"

  // Semantic checks (RouteCompiler)
  case emptyChain = "L0301"
  case denyWithBackends = "L0302"
  case routeWithoutAction = "L0303"
  case unreachableRoute = "L0304"
  case unusedBackend = "L0305"
  case unusedClient = "L0306"
  case noCatchAll = "L0307"
  case unsetEnvironmentVariable = "L0308"
  case azureWithoutAPIVersion = "L0309"
  case forwardKeyOnEcho = "L0310"
  case keyInClearText = "L0311"
  case timeoutOutOfRange = "L0312"
  case firstByteAboveTimeout = "L0313"
  case fieldNotForProtocol = "L0314"
  case invalidClamp = "L0316"
  case limitNeverApplies = "L0320"

  // Route tests (RouteCompiler.RouteTestRunner)
  case routeTestFailed = "L0401"
  case routeTestInvalid = "L0402"

  // Files and environment (louter CLI)
  case unreadablePath = "L0501"
  case noRouteFiles = "L0502"

  /// The severity a diagnostic of this code has unless the stage says otherwise.
  public var defaultSeverity: Severity {
    switch self {
    case .unreachableRoute, .unusedBackend, .unusedClient, .noCatchAll, .unsetEnvironmentVariable,
      .keyInClearText, .limitNeverApplies:
      .warning
    default:
      .error
    }
  }

  /// A one-line summary of what the code means, for `louter help codes` and the README.
  public var summary: String {
    switch self {
    case .invalidEncoding: "the file is not valid UTF-8 or holds a control character TOML forbids"
    case .unexpectedToken: "TOML syntax: something other than what the grammar allows here"
    case .unterminatedString: "a string is not closed before the end of its line or file"
    case .invalidEscape: "an escape sequence TOML does not define"
    case .invalidNumber: "a malformed integer or float"
    case .numberOutOfRange: "an integer that does not fit in 64 bits"
    case .invalidDateTime: "a malformed or impossible date or time"
    case .duplicateKey: "a key defined twice in one table"
    case .tableRedefined: "a table defined twice, or a key used both as a value and a table"
    case .nestingTooDeep: "arrays or inline tables nested deeper than louter accepts"
    case .expectedNewline: "something after a value on the same line"
    case .invalidKey: "a key that is empty where TOML forbids it or badly formed"
    case .unknownKey: "a table or key the route language does not define"
    case .wrongType: "a value of the wrong TOML type"
    case .unknownBackend: "a route names a backend that no [backends.NAME] defines"
    case .unknownClient: "a route or test names a client that no [clients.NAME] defines"
    case .duplicateName: "a backend, client or route name defined twice across files"
    case .invalidValue: "a value outside the allowed set"
    case .missingField: "a required field is missing"
    case .invalidDuration: "a duration that is not like \"250ms\", \"5s\", \"2m\" or \"1h\""
    case .invalidSize: "a size that is not like \"512KiB\" or \"20MiB\""
    case .invalidURL: "a backend URL that is not an absolute http(s) URL"
    case .invalidGlob: "a model glob louter cannot match"
    case .unsupportedVersion: "a route-file version newer than this louter"
    case .invalidAddress: "a listen address that is not HOST:PORT"
    case .plainTextKey: "a client key written in plain text instead of its sha256 hash"
    case .invalidHeaderName: "a header name with characters HTTP does not allow"
    case .emptyValue: "an empty string or list where one is required"
    case .emptyChain: "a route whose backend chain is empty"
    case .denyWithBackends: "a route that both denies and names backends"
    case .routeWithoutAction: "a route that neither denies nor names backends"
    case .unreachableRoute: "a route that an earlier route always matches first"
    case .unusedBackend: "a backend that no route uses"
    case .unusedClient: "a client that no route names"
    case .noCatchAll: "no route matches every request, so some requests get 404"
    case .unsetEnvironmentVariable: "a ${VAR} that is not set in the environment"
    case .azureWithoutAPIVersion: "flavor = \"azure\" without api_version"
    case .forwardKeyOnEcho: "forward_key on a backend that has no upstream"
    case .keyInClearText: "an api_key sent over plain http to a non-local host"
    case .timeoutOutOfRange: "a timeout outside the range louter accepts"
    case .firstByteAboveTimeout: "first_byte_timeout longer than the whole-request timeout"
    case .fieldNotForProtocol: "a field that the backend's protocol does not use"
    case .invalidClamp: "a generation clamp whose min is above its max, or a default outside it"
    case .limitNeverApplies: "a client request limit at or above the limit of a longer window, so it never refuses"
    case .routeTestFailed: "a [[tests]] case whose expectation does not hold"
    case .routeTestInvalid: "a [[tests]] case that cannot be evaluated"
    case .unreadablePath: "a path that cannot be read"
    case .noRouteFiles: "a folder with no *.toml files"
    }
  }
}
