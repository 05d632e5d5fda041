package check

import "fmt"

// Report languages.
const (
	langEN = "en"
	langZH = "zh-CN"
)

// Languages are the languages a report can be written in.
var Languages = []string{langEN, langZH}

// t writes a message in the run's language.
func (c *checker) t(key string, args ...any) string { return tr(c.o.Lang, key, args...) }

// tr writes a message in a language; an unknown key shows as !(key), which the tests
// look for.
func tr(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return "!(" + key + ")"
	}
	f := m[0]
	if lang == langZH {
		f = m[1]
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// messages are every text of a report: English, then Chinese.
var messages = map[string][2]string{
	"family.autoconfig": {"Thunderbird and other autoconfig clients", "Thunderbird 及其他 autoconfig 客户端"},
	"family.outlook":    {"Outlook (Autodiscover)", "Outlook（自动发现）"},
	"family.srv":        {"RFC 6186 clients (SRV records)", "RFC 6186 客户端（SRV 记录）"},
	"family.apple":      {"Apple devices and people", "苹果设备与用户"},
	"family.agreement":  {"The same settings everywhere", "各处设置一致"},
	"family.tls":        {"HTTPS certificates", "HTTPS 证书"},
	"family.dns":        {"DNS names", "DNS 名称"},
	"family.servers":    {"Mail servers (-connect)", "邮件服务器（-connect）"},
	"family.config":     {"The configuration (-config)", "配置文件（-config）"},

	"view.config":  {"configuration", "配置"},
	"view.profile": {"profile", "描述文件"},
	"view.setup":   {"setup page", "设置页面"},

	"asked.agree-incoming":    {"the incoming server each kind of client takes first", "各类客户端首选的收信服务器"},
	"asked.agree-outgoing":    {"the outgoing server each kind of client takes first", "各类客户端首选的发信服务器"},
	"asked.agree-servers":     {"every server named by more than one source", "多个来源都提到的每台服务器"},
	"asked.config-autoconfig": {"autoconfig documents against the configuration", "autoconfig 文档与配置对照"},
	"asked.config-outlook":    {"Outlook answers against the configuration", "Outlook 应答与配置对照"},
	"asked.config-srv":        {"SRV records against the configuration", "SRV 记录与配置对照"},
	"asked.config-profile":    {"the profile against the configuration", "描述文件与配置对照"},
	"asked.config-names":      {"addresses of autoconfig. and autodiscover., and the Autodiscover URL, against the configuration", "autoconfig. 与 autodiscover. 的地址及自动发现 URL 与配置对照"},
	"asked.connect":           {"the mail servers' ports", "邮件服务器端口"},
	"asked.srv-usable":        {"what RFC 6186 clients take", "RFC 6186 客户端采用的服务器"},

	"found.agree":                    {"%s in %s", "%s（%s 一致）"},
	"found.agree-servers":            {"each server has the same port and security in %s", "每台服务器在 %s 中的端口与加密方式一致"},
	"found.agree-too-few":            {"fewer than two sources to compare", "可比较的来源少于两个"},
	"found.bad-greeting":             {"no greeting: %s", "没有问候语：%s"},
	"found.cert-expired":             {"the certificate expired on %s", "证书已于 %s 过期"},
	"found.cert-expiring":            {"the certificate expires on %s (in %d days)", "证书将于 %s 过期（还剩 %d 天）"},
	"found.cert-name":                {"the certificate is not valid for %s (it names %s)", "证书对 %s 无效（证书中的名称为 %s）"},
	"found.cert-not-yet-valid":       {"the certificate is valid only from %s", "证书自 %s 起才生效"},
	"found.cert-ok":                  {"valid for %s until %s, issued by %s", "对 %s 有效，至 %s，签发者 %s"},
	"found.cert-untrusted":           {"the certificate is not trusted: %s", "证书不受信任：%s"},
	"found.client-rules":             {"clients that read values literally stumble: %s", "按字面读取的客户端会出错：%s"},
	"found.config-addresses":         {"%s has %s, dns.addresses says %s", "%s 的地址为 %s，dns.addresses 为 %s"},
	"found.config-differs":           {"%s publishes %s; the configuration says %s", "%s 发布的是 %s；配置为 %s"},
	"found.config-domain":            {"the configuration does not serve %s", "配置中没有 %s"},
	"found.config-not-asked":         {"not checked: pass -config FILE", "未检查：请使用 -config FILE"},
	"found.config-nothing-published": {"nothing published to compare", "没有可对照的已发布内容"},
	"found.config-provider":          {"provider %s serves %s", "服务商 %s 提供 %s"},
	"found.config-srv":               {"%s: published %s, configured %s", "%s：已发布 %s，配置为 %s"},
	"found.config-srv-ok":            {"the %d records mailconf builds from it are published", "mailconf 据此生成的 %d 条记录均已发布"},
	"found.config-url":               {"%s: %s, configured %s", "%s：%s，配置为 %s"},
	"found.connect-not-asked":        {"not checked: add -connect to open each server's port", "未检查：加上 -connect 以连接各服务器端口"},
	"found.connect-nothing":          {"no server settings found to connect to", "没有找到可连接的服务器设置"},
	"found.disagree":                 {"%s; while %s say %s", "%s；而 %s 为 %s"},
	"found.dns-timeout":              {"no answer from the DNS server within %s", "DNS 服务器在 %s 内没有应答"},
	"found.dns-failed":               {"the DNS server could not be asked: %s", "无法查询 DNS 服务器：%s"},
	"found.dns-error":                {"the DNS server answered %s", "DNS 服务器应答 %s"},
	"found.greeting":                 {"greets: %s", "问候语：%s"},
	"found.http-status":              {"HTTP %d", "HTTP %d"},
	"found.ispdb-optional":           {"only clients pointed at this server ask here", "只有指向本服务器的客户端才会请求这里"},
	"found.json-error":               {"HTTP %d, %s: %s", "HTTP %d，%s：%s"},
	"found.mistake-host":             {"%s on %s, a host named for %s", "%s 使用了 %s，这是 %s 的主机名"},
	"found.mistake-port":             {"%s on %s port %d, which is %s's port", "%s 使用 %s 的 %d 端口，这是 %s 的端口"},
	"found.mistake-socket":           {"socketType %q", "socketType %q"},
	"found.mistake-ssl-port":         {"%s with SSL on port %d, a STARTTLS port", "%s 在 %d 端口使用 SSL，而该端口用于 STARTTLS"},
	"found.mistake-starttls-port":    {"%s with %s on port %d, where TLS starts with the first byte", "%s 在 %[3]d 端口使用 %[2]s，而该端口一连接就开始 TLS"},
	"found.moves-on":                 {"clients move on to %s", "客户端会转而请求 %s"},
	"found.no-address":               {"%s has no address (%s)", "%s 没有地址（%s）"},
	"found.no-greeting":              {"no greeting within %s", "%s 内没有收到问候语"},
	"found.no-mx":                    {"no MX record (%s)", "没有 MX 记录（%s）"},
	"found.no-record":                {"no record (%s)", "没有记录（%s）"},
	"found.no-redirect":              {"no redirect: Autodiscover error %s asks for POST (autodiscover.url is not set)", "没有重定向：自动发现错误 %s 要求使用 POST（未设置 autodiscover.url）"},
	"found.no-tls":                   {"%s:%s does not speak TLS", "%s:%s 不支持 TLS"},
	"found.no-tls-connection":        {"no TLS connection was made (the steps that asked say why)", "未能建立 TLS 连接（原因见相应步骤）"},
	"found.no-tls-greeting":          {"no TLS: the server spoke plain text first (%q)", "没有 TLS：服务器先发送了明文（%q）"},
	"found.none":                     {"none", "无"},
	"found.other-domain":             {"the document is for %s, not %s", "该文档适用于 %s，而不是 %s"},
	"found.outlook-moves-on":         {"Outlook moves on to %s", "Outlook 会转而请求 %s"},
	"found.plain":                    {"no STARTTLS: passwords would travel unencrypted", "不支持 STARTTLS：密码将以明文传输"},
	"found.pox-error":                {"Autodiscover error %s: %s", "自动发现错误 %s：%s"},
	"found.profile-address":          {"the profile is for %s, not %s", "该描述文件适用于 %s，而不是 %s"},
	"found.profile-type":             {"Content-Type %s", "Content-Type 为 %s"},
	"found.readings-differ":          {"%s port %d: Outlook reads %s, Thunderbird reads %s", "%s %d 端口：Outlook 理解为 %s，Thunderbird 理解为 %s"},
	"found.redirect":                 {"%d to %s", "%d 重定向到 %s"},
	"found.refused":                  {"connection to %s port %s refused", "连接 %s 的 %s 端口被拒绝"},
	"found.rejected-apple":           {"devices reject the profile: %s", "设备拒绝该描述文件：%s"},
	"found.rejected-k9":              {"Thunderbird for Android rejects it: %s", "Android 版 Thunderbird 拒绝该文档：%s"},
	"found.rejected-new-outlook":     {"new Outlook rejects the answer: %s", "新版 Outlook 拒绝该应答：%s"},
	"found.rejected-outlook":         {"Outlook rejects the answer: %s", "Outlook 拒绝该应答：%s"},
	"found.rejected-thunderbird":     {"Thunderbird rejects it: %s", "Thunderbird 拒绝该文档：%s"},
	"found.judged-at":                {"the answer there: see %s", "该处的应答见 %s"},
	"found.same-document":            {"the same document as %s", "与 %s 的文档相同"},
	"found.same-settings":            {"the same settings as %s", "与 %s 的设置相同"},
	"found.server-differs":           {"%s says %s, the others %s", "%s 为 %s，其他来源为 %s"},
	"found.setup-unreadable":         {"the page lists no servers", "该页面没有列出服务器"},
	"found.signed":                   {"signed by %s", "签名者 %s"},
	"found.signer-untrusted":         {"signed by %s, not trusted: %s", "签名者 %s 不受信任：%s"},
	"found.srv-contradicts":          {"says not offered, but %s publishes %s", "记录表示不提供该服务，但 %s 发布了 %s"},
	"found.srv-missing":              {"no record (%s), but %s publishes %s", "没有记录（%s），但 %s 发布了 %s"},
	"found.srv-mixed":                {`"0 0 0 ." among real targets`, `"0 0 0 ." 与实际目标混在一起`},
	"found.srv-no-incoming":          {"RFC 6186 clients find no incoming server", "RFC 6186 客户端找不到收信服务器"},
	"found.srv-no-outgoing":          {"RFC 6186 clients find no outgoing server", "RFC 6186 客户端找不到发信服务器"},
	"found.srv-none-needed":          {"no record (%s); nothing to publish", "没有记录（%s）；也无需发布"},
	"found.srv-not-offered":          {"not offered (0 0 0 .)", "不提供（0 0 0 .）"},
	"found.srv-usable":               {"incoming %s, outgoing %s", "收信 %s，发信 %s"},
	"found.starttls-refused":         {"STARTTLS refused: %s", "STARTTLS 被拒绝：%s"},
	"found.run-timeout":              {"no answer before the whole run's time ran out (-total-timeout)", "整个检查的时限（-total-timeout）已到，仍未收到应答"},
	"found.timeout":                  {"no answer within %s", "%s 内没有应答"},
	"found.tls-handshake":            {"TLS handshake failed: %s", "TLS 握手失败：%s"},
	"found.tls-ok":                   {"%s, certificate valid until %s", "%s，证书有效期至 %s"},
	"found.unsigned":                 {"unsigned: devices show it as Unsigned", "未签名：设备会显示“未签名”"},
	"found.wrong-protocol":           {"port %d answers as %s: %s", "%d 端口的应答属于 %s：%s"},

	"fix.add":                     {"add: %s", "添加记录：%s"},
	"fix.agree":                   {"make %s publish %s like the others (see %s: another server may answer there)", "让 %s 与其他来源一致，发布 %s（见 %s：那里可能是另一台服务器在应答）"},
	"fix.agree-srv":               {"publish instead: %s", "改为发布：%s"},
	"fix.apple":                   {"let mailconf serve the profile: point %s at it", "由 mailconf 提供描述文件：将 %s 指向它"},
	"fix.autoconfig-content-type": {"serve the document as text/xml (mailconf does): Thunderbird ignores other types", "以 text/xml 类型提供该文档（mailconf 即如此）：Thunderbird 会忽略其他类型"},
	"fix.autoconfig-document":     {"let mailconf answer here (point %s at it): it writes documents every client reads", "由 mailconf 应答（将 %s 指向它）：它生成的文档所有客户端都能读取"},
	"fix.autodiscover":            {"let mailconf answer Autodiscover (point %s at it): it writes answers Outlook reads", "由 mailconf 应答自动发现（将 %s 指向它）：它生成的应答 Outlook 能读取"},
	"fix.autodiscover-srv":        {"optional: publish _autodiscover._tcp.%s. 3600 IN SRV 0 0 443 %s.", "可选：发布 _autodiscover._tcp.%s. 3600 IN SRV 0 0 443 %s."},
	"fix.cert-expired":            {"renew the certificate of %s (with tls.acme mailconf renews it itself)", "续期 %s 的证书（使用 tls.acme 时 mailconf 会自动续期）"},
	"fix.cert-expiring":           {"renew the certificate of %s before it expires (mailconf renews ACME certificates itself: check its log)", "在过期前续期 %s 的证书（mailconf 会自动续期 ACME 证书：请查看其日志）"},
	"fix.cert-name":               {"use a certificate that names %s (tls.acme gets autoconfig.<domain> and autodiscover.<domain> itself)", "使用包含 %s 的证书（tls.acme 会自动申请 autoconfig.<域名> 与 autodiscover.<域名>）"},
	"fix.cert-not-yet-valid":      {"check the clock of this machine, or the certificate of %s", "检查本机时间，或 %s 的证书"},
	"fix.cert-untrusted":          {"serve the whole chain of %s up to a public CA (for a private CA, pass its root with -ca)", "提供 %s 直到公共 CA 的完整证书链（私有 CA 请用 -ca 指定根证书）"},
	"fix.config-differs":          {"reload mailconf (systemctl reload mailconf), or find which server answers %s", "重新加载 mailconf（systemctl reload mailconf），或查明是哪台服务器在应答 %s"},
	"fix.config-domain":           {"add %s to a provider's domains in this file, or pass the file mailconf serves", "在该文件中把 %s 加入某个服务商的 domains，或指定 mailconf 实际使用的文件"},
	"fix.config-names":            {"point autoconfig. and autodiscover. at the addresses in dns.addresses, set autodiscover.url as published, and reload mailconf", "将 autoconfig. 与 autodiscover. 指向 dns.addresses 中的地址，使 autodiscover.url 与发布的一致，并重新加载 mailconf"},
	"fix.config-srv":              {"copy the records `mailconf records -config FILE` prints into the zone, or delegate the zone to mailconf", "把 `mailconf records -config FILE` 输出的记录复制到区域中，或将该区域委派给 mailconf"},
	"fix.domain-optional":         {"optional, clients move on: to answer here too, have the web server of %s pass %s to mailconf (deploy/proxy/)", "可选，客户端会继续尝试其他地址：若也要在这里应答，请让 %s 的网站服务器把 %s 转交给 mailconf（见 deploy/proxy/）"},
	"fix.dns-error":               {"make sure the DNS server asked (-resolver, or the system's) answers for %s", "确认所查询的 DNS 服务器（-resolver 或系统默认）能应答 %s"},
	"fix.http-status":             {"the server at %s answered an error: check its log (mailconf logs every request)", "%s 上的服务器返回了错误：请查看其日志（mailconf 会记录每个请求）"},
	"fix.k9":                      {"Thunderbird for Android rejects the whole document: see docs/clients.md", "Android 版 Thunderbird 会拒绝整个文档：见 docs/clients.md"},
	"fix.k9-imap":                 {"add an IMAP server: Thunderbird for Android ignores POP3", "添加 IMAP 服务器：Android 版 Thunderbird 忽略 POP3"},
	"fix.k9-plain":                {"offer SSL or STARTTLS: Thunderbird for Android refuses a document with a plain server", "提供 SSL 或 STARTTLS：Android 版 Thunderbird 拒绝含明文服务器的文档"},
	"fix.mail-tls":                {"serve a certificate for %s on port %d", "在 %[2]d 端口为 %[1]s 提供证书"},
	"fix.mail-unreachable":        {"check that %s runs a mail server on port %d that the internet can reach", "确认 %s 的 %d 端口运行着可从互联网访问的邮件服务器"},
	"fix.mistake-host":            {"use the %s server's own host name, not %s", "使用 %s 服务器自己的主机名，而不是 %s"},
	"fix.mistake-port":            {"%s with %s uses port %s", "%s 使用 %s 时端口为 %s"},
	"fix.mistake-socket":          {"write socketType %s (exact case; TLS is not a value)", "写成 socketType %s（区分大小写；TLS 不是有效值）"},
	"fix.mistake-ssl-port":        {"%s with SSL uses port %s; on port %d use STARTTLS", "%s 使用 SSL 时端口为 %s；%d 端口应使用 STARTTLS"},
	"fix.mistake-starttls-port":   {"port %d takes SSL (TLS from the first byte); STARTTLS goes with port %d", "%d 端口应使用 SSL（一连接就开始 TLS）；STARTTLS 对应 %d 端口"},
	"fix.no-address":              {"add an A or AAAA record for %s pointing at the server that answers for it", "为 %s 添加指向应答服务器的 A 或 AAAA 记录"},
	"fix.no-greeting":             {"if port %d expects TLS at once, publish it with SSL", "如果 %d 端口一连接就需要 TLS，请以 SSL 发布"},
	"fix.no-mx":                   {"add MX records for %s pointing at its incoming mail server", "为 %s 添加指向收信服务器的 MX 记录"},
	"fix.no-redirect":             {"optional: set autodiscover.url so that this answers with a redirect", "可选：设置 autodiscover.url，使这里以重定向应答"},
	"fix.no-tls":                  {"port %d speaks plain text first: publish it with STARTTLS, or %s with SSL on port %d", "%d 端口先以明文通信：请以 STARTTLS 发布，或让 %s 在 %d 端口使用 SSL"},
	"fix.not-found":               {"%[1]s answers but publishes nothing for %[2]s: add %[2]s to a provider's domains in mailconf's configuration, or point %[1]s at mailconf", "%[1]s 有应答但没有为 %[2]s 发布任何内容：在 mailconf 配置中把 %[2]s 加入某个服务商的 domains，或将 %[1]s 指向 mailconf"},
	"fix.other-domain":            {"publish the document of the provider that serves %s", "发布负责 %s 的服务商的文档"},
	"fix.plain":                   {"offer TLS (SSL on port %d): passwords travel unencrypted", "提供 TLS（SSL，%d 端口）：否则密码以明文传输"},
	"fix.pox-500":                 {"the server does not know %s: add it to a provider's domains in mailconf's configuration", "服务器不认识 %s：在 mailconf 配置中把它加入某个服务商的 domains"},
	"fix.pox-error":               {"Autodiscover error %s: check the server's log", "自动发现错误 %s：请查看服务器日志"},
	"fix.profile-type":            {"serve it as application/x-apple-aspen-config: Safari installs only that type", "以 application/x-apple-aspen-config 类型提供：Safari 只安装这种类型"},
	"fix.readings-differ":         {"use the standard port %d: Thunderbird derives the security from the port", "使用标准端口 %d：Thunderbird 根据端口推断加密方式"},
	"fix.redirect":                {"serve the document at this URL with status 200: FairEmail, GNOME and KMail do not follow redirects", "在此 URL 以状态 200 提供文档：FairEmail、GNOME 与 KMail 不跟随重定向"},
	"fix.redirect-https":          {"redirect to an https URL (set autodiscover.url): Outlook follows no other", "重定向到 https URL（设置 autodiscover.url）：Outlook 不跟随其他重定向"},
	"fix.refused":                 {"start the %s listener on port %s of the server %s points at, or open that port in the firewall", "在 %[3]s 所指向的服务器上启动 %[1]s 监听（%[2]s 端口），或在防火墙中放行该端口"},
	"fix.replace":                 {"replace it with: %s", "改为：%s"},
	"fix.setup":                   {"let mailconf serve the setup pages: point %s at it", "由 mailconf 提供设置页面：将 %s 指向它"},
	"fix.signer-untrusted":        {"sign with a certificate from a public CA (mailconf uses the HTTPS one by default)", "使用公共 CA 签发的证书签名（mailconf 默认使用 HTTPS 证书）"},
	"fix.srv-mixed":               {`_%s._tcp: publish either real targets or the one record "0 0 0 .", never both`, `_%s._tcp：要么发布实际目标，要么只发布一条 "0 0 0 ."，不能混用`},
	"fix.srv-usable-none":         {"publish the SRV records `mailconf records` prints", "发布 `mailconf records` 输出的 SRV 记录"},
	"fix.starttls-refused":        {"enable STARTTLS on %s port %d, or publish the SSL port instead", "在 %s 的 %d 端口启用 STARTTLS，或改为发布 SSL 端口"},
	"fix.tls-handshake":           {"serve a certificate for %s on port %s (-tls-cert/-tls-key, or tls.acme)", "在 %[2]s 端口为 %[1]s 提供证书（-tls-cert/-tls-key 或 tls.acme）"},
	"fix.unreachable":             {"make port %[2]s of %[1]s reachable from the internet (firewall, NAT, listener)", "让 %[1]s 的 %[2]s 端口可从互联网访问（防火墙、NAT、监听）"},
	"fix.unsigned":                {"give mailconf a certificate (-tls-cert, tls.acme or profile.cert_file): it then signs profiles", "为 mailconf 提供证书（-tls-cert、tls.acme 或 profile.cert_file），它就会为描述文件签名"},
	"fix.wrong-protocol":          {"%s with %s uses port %d", "%s 使用 %s 时端口为 %d"},

	"placeholder.address": {"<address of the mailconf server>", "<mailconf 服务器的地址>"},

	"report.title":  {"mailconf check %s (%s), %s", "mailconf check %s（%s），%s"},
	"report.fix":    {"fix: ", "修复："},
	"report.note":   {" (%s)", "（%s）"},
	"report.ok":     {"Every client gets working settings: %d steps ok, %d with warnings, %d skipped.", "所有客户端都能获得可用的设置：%d 项通过，%d 项警告，%d 项跳过。"},
	"report.failed": {"Not every client gets working settings: %d steps failed (%s), %d with warnings, %d ok, %d skipped.", "并非所有客户端都能获得可用的设置：%d 项失败（%s），%d 项警告，%d 项通过，%d 项跳过。"},
}
