namespace Ut360.Tests.Infrastructure;

/// The checkout the tests were built from: the first folder above the test binaries that holds
/// the `ut360` script (scripts and benches are run from there).
public static class Repo
{
    public static string Root { get; } = Find();

    static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ut360")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("no ut360 script above " + AppContext.BaseDirectory);
    }
}
