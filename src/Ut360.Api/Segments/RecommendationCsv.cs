using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using nietras.SeparatedValues;
using Npgsql;
using Ut360.Api.Recommendations;

namespace Ut360.Api.Segments;

/// Campaign exports with the recommendation's columns, as a CSV that spreadsheets open cleanly:
/// UTF-8 with a BOM (Excel reads Vietnamese right), RFC 4180 quoting (Sep), and a text cell
/// that starts with = + - @ (or a tab or carriage return) written with a leading apostrophe so
/// no spreadsheet evaluates it as a formula (OWASP "CSV injection"; base64 ISDNs can start
/// with +). Numbers are written as they are. Rows go out a batch at a time: memory is bounded
/// by the batch, not the segment.
public static class RecommendationCsv
{
    /// The columns of docs/api.md's recommendation, in the design's order.
    public static readonly string[] Columns =
    [
        "isdn", "subscriber_type", "service_type", "advance_amount", "revenue_per_advance", "cluster_group",
        "bad_debt_risk", "arpu_avg_6m", "arpu_growth_rate", "arpu_trend", "customer_value_score",
        "advance_readiness_score", "recommendation_date", "priority", "priority_score",
    ];

    public const int BatchSize = 1_000;

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// Writes the header, then each batch's records (ISDNs no longer stored are skipped).
    public static async Task WriteAsync(IAsyncEnumerable<List<string>> batches, RecommendationStore store, Stream body, CancellationToken ct)
    {
        await body.WriteAsync(Encoding.UTF8.Preamble.ToArray(), ct);
        var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var writer = Sep.New(',').Writer(o => o with { Escape = true, CultureInfo = CultureInfo.InvariantCulture }).To(text))
        {
            writer.Header.Add(Columns);
            writer.Header.Write();
            await DrainAsync(text, body, ct);
            await foreach (var isdns in batches.WithCancellation(ct))
            {
                var (views, _, _) = await store.GetManyAsync(isdns, ct);
                foreach (var view in views)
                    if (view is not null)
                        Row(writer, view);
                writer.Flush();
                await DrainAsync(text, body, ct);
            }
        }
        await DrainAsync(text, body, ct);
    }

    /// The ISDNs in the first column of a query's rows, a batch at a time.
    public static async IAsyncEnumerable<List<string>> IsdnBatchesAsync(NpgsqlCommand cmd, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var batch = new List<string>(BatchSize);
        while (await reader.ReadAsync(ct))
        {
            batch.Add(reader.GetString(0));
            if (batch.Count == BatchSize)
            {
                yield return batch;
                batch = new List<string>(BatchSize);
            }
        }
        if (batch.Count > 0)
            yield return batch;
    }

    static void Row(SepWriter writer, RecommendationView v)
    {
        using var row = writer.NewRow();
        row["isdn"].Set(Text(v.Isdn));
        row["subscriber_type"].Set(Text(v.SubscriberType));
        row["service_type"].Set(Text(v.ServiceType));
        row["advance_amount"].Format(v.AdvanceAmount);
        row["revenue_per_advance"].Format(v.RevenuePerAdvance);
        Number(row["cluster_group"], v.ClusterGroup);
        row["bad_debt_risk"].Set(Text(v.BadDebtRisk));
        Number(row["arpu_avg_6m"], v.ArpuAvg6m);
        Number(row["arpu_growth_rate"], v.ArpuGrowthRate);
        row["arpu_trend"].Set(Text(v.ArpuTrend));
        Number(row["customer_value_score"], v.CustomerValueScore);
        Number(row["advance_readiness_score"], v.AdvanceReadinessScore);
        row["recommendation_date"].Set(v.RecommendationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        row["priority"].Set(Text(v.Priority));
        Number(row["priority_score"], v.PriorityScore);
    }

    static void Number<T>(SepWriter.Col col, T? value) where T : struct, ISpanFormattable
    {
        if (value is { } v)
            col.Format(v);
        else
            col.Set("");
    }

    /// A text cell a spreadsheet would take for a formula gets a leading apostrophe.
    public static string Text(string? value) =>
        value is { Length: > 0 } && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value ?? "";

    static async Task DrainAsync(StringWriter text, Stream body, CancellationToken ct)
    {
        var buffer = text.GetStringBuilder();
        if (buffer.Length == 0)
            return;
        foreach (var chunk in buffer.GetChunks())
            await body.WriteAsync(Utf8.GetBytes(chunk.ToArray()), ct);
        buffer.Clear();
    }
}
