using Npgsql;
using StackExchange.Redis;
using Ut360.Data;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(Ut360Settings.Postgres(builder.Configuration)));
builder.Services.AddSingleton<IConnectionMultiplexer>(_ =>
    ConnectionMultiplexer.Connect(Ut360Settings.Redis(builder.Configuration)));

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapGet("/health/live", () => TypedResults.Ok("live"));

app.Run();

public partial class Program;
