import Hummingbird

/// Lets through only requests that present the service's token as `Authorization: Bearer
/// <token>`: any other gets 401 (an ``CatalogWire/ErrorBody``) before its route reads anything.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let authenticator: TokenAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard authenticator.authorises(request.headers[.authorization]) else {
            return CatalogService.error(.unauthorized, .unauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)")
        }
        return try await next(request, context)
    }
}
