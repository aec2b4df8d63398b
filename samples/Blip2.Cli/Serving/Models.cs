using System.Net;
using Microsoft.AspNetCore.Http;

namespace Blip2.Cli.Serving;

/// <summary><c>GET /v1/models</c> and <c>/v1/models/{id}</c>: the one served model; any other id is a 404, as OpenAI answers.</summary>
public static class Models
{
    public static object List(ServedModel served) => new { @object = "list", data = new[] { Card(served) } };

    public static object Get(string id, ServedModel served)
    {
        Check(id, served);
        return Card(served);
    }

    /// <summary>A request's <c>model</c>: unset or the served id; anything else is a 404 model_not_found.</summary>
    public static void Check(string? model, ServedModel served)
    {
        if (model is not null && model != served.Id)
            throw new ApiException(HttpStatusCode.NotFound, $"The model '{model}' does not exist: this server serves '{served.Id}'", "model", "model_not_found");
    }

    private static object Card(ServedModel served) => new { id = served.Id, @object = "model", created = served.Created, owned_by = "blip2compiler" };

    public static IResult Unknown(HttpContext http) => throw new ApiException(HttpStatusCode.NotFound,
        $"Unknown request URL: {http.Request.Method} {http.Request.Path}.", code: "unknown_url");
}
