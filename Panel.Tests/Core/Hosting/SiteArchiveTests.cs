using System.Formats.Tar;
using System.IO.Compression;
using Panel.Core.Hosting;
using Panel.Core.Services;

namespace Panel.Tests.Core.Hosting;

/// <summary>The checks an uploaded zip passes before anything is written, and domain normalization.</summary>
public sealed class SiteArchiveTests
{
    /// <summary>A zip of (name, content, unix mode or 0).</summary>
    internal static MemoryStream Zip(params (string Name, string Content, int Mode)[] entries)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content, mode) in entries)
            {
                var e = zip.CreateEntry(name);
                if (mode != 0)
                {
                    e.ExternalAttributes = mode << 16;
                }

                using var w = new StreamWriter(e.Open());
                w.Write(content);
            }
        }

        ms.Position = 0;
        return ms;
    }

    [Fact]
    public void A_good_zip_becomes_a_tar_of_its_files_and_folders_with_safe_relative_paths()
    {
        using var zip = Zip(("index.html", "<h1>hi</h1>", 0), ("css/", "", 0), ("css/site.css", "body{}", 0x81A4), ("./img\\logo.txt", "x", 0));
        var result = SiteArchive.Check(zip, 1 << 20);

        result.Files.ShouldBe(3);
        result.Bytes.ShouldBe(11 + 6 + 1);
        using var reader = new TarReader(new MemoryStream(result.Tar));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            entry.EntryType.ShouldBeOneOf(TarEntryType.RegularFile, TarEntryType.Directory);
            names.Add(entry.Name);
        }

        names.ShouldBe(["index.html", "css/", "css/site.css", "img/logo.txt"]);
    }

    [Fact]
    public void An_executable_file_stays_executable_and_no_set_id_bit_passes()
    {
        // 0x81ED: a regular file rwxr-xr-x; 0x8DED: the same with set-uid and set-gid; 0x81A4: rw-r--r--.
        using var zip = Zip(("start.sh", "#!/bin/sh\n", 0x81ED), ("suid", "x", 0x8DED), ("page.html", "x", 0x81A4), ("plain.txt", "x", 0));
        var result = SiteArchive.Check(zip, 1 << 20);

        using var reader = new TarReader(new MemoryStream(result.Tar));
        var modes = new Dictionary<string, UnixFileMode>();
        while (reader.GetNextEntry() is { } entry)
        {
            modes[entry.Name] = entry.Mode;
        }

        modes["start.sh"].ShouldBe((UnixFileMode)0b111_101_101);
        modes["suid"].ShouldBe((UnixFileMode)0b111_101_101);
        modes["page.html"].ShouldBe((UnixFileMode)0b110_100_100);
        modes["plain.txt"].ShouldBe((UnixFileMode)0b110_100_100);
    }

    [Theory]
    [InlineData("../evil.html")]
    [InlineData("a/../../evil.html")]
    [InlineData("/etc/passwd")]
    [InlineData("\\windows\\evil")]
    [InlineData("C:/evil")]
    [InlineData("a\\..\\..\\evil")]
    public void An_entry_leaving_the_site_folder_refuses_the_whole_zip(string name)
    {
        using var zip = Zip(("index.html", "ok", 0), (name, "evil", 0));
        var ex = Should.Throw<PanelRefusedException>(() => SiteArchive.Check(zip, 1 << 20));
        ex.Message.ShouldContain("points outside the site folder");
        ex.Field.ShouldBe("Content");
    }

    [Fact]
    public void Symbolic_links_special_files_duplicates_and_non_zips_are_refused()
    {
        using (var link = Zip(("index.html", "ok", 0), ("passwd", "/etc/passwd", 0xA1FF)))
        {
            Should.Throw<PanelRefusedException>(() => SiteArchive.Check(link, 1 << 20)).Message.ShouldContain("symbolic link");
        }

        using (var fifo = Zip(("pipe", "", 0x11A4)))
        {
            Should.Throw<PanelRefusedException>(() => SiteArchive.Check(fifo, 1 << 20)).Message.ShouldContain("not a plain file");
        }

        using (var twice = Zip(("a.html", "1", 0), ("./a.html", "2", 0)))
        {
            Should.Throw<PanelRefusedException>(() => SiteArchive.Check(twice, 1 << 20)).Message.ShouldContain("twice");
        }

        using var text = new MemoryStream("not a zip"u8.ToArray());
        Should.Throw<PanelRefusedException>(() => SiteArchive.Check(text, 1 << 20)).Message.ShouldBe("The upload is not a zip file.");
    }

    [Fact]
    public void Content_over_the_quota_is_refused_counting_what_really_unpacks()
    {
        using var zip = Zip(("a.txt", new string('a', 600), 0), ("b.txt", new string('b', 600), 0));
        Should.Throw<PanelRefusedException>(() => SiteArchive.Check(zip, 1000)).Message.ShouldContain("more than the site's quota");
        zip.Position = 0;
        SiteArchive.Check(zip, 1200).Bytes.ShouldBe(1200);
    }

    [Theory]
    [InlineData("Example.COM", "example.com")]
    [InlineData("  www.example.com. ", "www.example.com")]
    [InlineData("Bücher.example", "xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example")]
    public void Domains_are_lower_case_idna_ascii(string input, string expected)
        => DomainName.Normalize(input).ShouldBe(expected);

    [Theory]
    [InlineData("")]
    [InlineData("localhost")]
    [InlineData("bad_domain.com")]
    [InlineData("-bad.com")]
    [InlineData("bad-.com")]
    [InlineData("a..com")]
    [InlineData("10.0.0.1")]
    [InlineData("exa mple.com")]
    [InlineData("*.example.com")]
    public void Invalid_domains_are_refused_with_a_message(string input)
    {
        var ex = Should.Throw<PanelRefusedException>(() => DomainName.Normalize(input));
        ex.Field.ShouldBe("Domain");
        ex.Message.ShouldNotBeNullOrWhiteSpace();
    }
}
