# The VpsPanel panel image. Build from the repository root:  docker build -t vpspanel .
# Not runnable on the development machines (no Docker engine there); kept correct by reading.

FROM mcr.microsoft.com/dotnet/sdk:10.0-bookworm-slim AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig VpsPanel.sln ./
COPY Panel.Hypervisor/Panel.Hypervisor.csproj Panel.Hypervisor/
COPY Panel.Core/Panel.Core.csproj Panel.Core/
COPY Panel.Web/Panel.Web.csproj Panel.Web/
RUN dotnet restore Panel.Web/Panel.Web.csproj
COPY Panel.Hypervisor/ Panel.Hypervisor/
COPY Panel.Core/ Panel.Core/
COPY Panel.Web/ Panel.Web/
RUN dotnet publish Panel.Web/Panel.Web.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0-bookworm-slim AS runtime
# The engine drives the host's own virtualization tools; they must be in the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      lxc lxcfs user-mode-linux qemu-system-x86 qemu-utils busybox-static e2fsprogs \
      iproute2 nftables debootstrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_URLS=http://0.0.0.0:5080 \
    DOTNET_RUNNING_IN_CONTAINER=true
EXPOSE 5080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/5080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["dotnet", "Panel.Web.dll"]
