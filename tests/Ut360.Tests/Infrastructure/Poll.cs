namespace Ut360.Tests.Infrastructure;

/// Waits for a condition the system reaches by itself (a fill, an invalidation, a recovery):
/// polls it, and fails the test naming what did not happen when the time runs out.
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within {timeoutMs} ms: {what}");
            await Task.Delay(10);
        }
    }
}
