package templates

// Languages are the languages of the pages, the first the fallback.
var Languages = []string{"en", "zh-CN"}

// uiText is every word of the pages in one language. Strings with %s take values
// (host names, ports, addresses) filled in by the view; html/template escapes them.
type uiText struct {
	LangName string // the language's own name, for the switch

	SiteTitle, IndexIntro, IndexProviders, IndexDomains, IndexMore, IndexMoreProviders, IndexForm, AddressLabel, AddressPlaceholder, Show string
	IndexWhat                                                                                                                             []string

	SetupTitle, SetupFor, SetupForDomain, BeforeYouStart, OpenSettings string

	ServersTitle, ColProtocol, ColServer, ColPort, ColSecurity, ColUsername, ColPassword string
	Incoming, Outgoing, SecSSL, SecSTARTTLS, SecPlain                                    string
	UserAddress, UserLocal, UserDomain, PasswordDefault                                  string

	DAVTitle, DAVIntro, DAVCalendar, DAVContacts, ColService, ColURL string

	ClientsTitle                                   string
	Thunderbird, OutlookNew, OutlookClassic        string
	AppleMail, AppleProfile, AppleManual           string
	Android, GmailApp, ThunderbirdAndroid, Foxmail string

	StepsThunderbird, StepsOutlookNew, StepsOutlookClassic []string
	StepsAppleProfile, StepsAppleManual                    []string
	StepsGmail, StepsThunderbirdAndroid, StepsFoxmail      []string
	ManualIncoming, ManualOutgoing                         string // %s protocol, %s host, %s port, %s security, %s username

	ProfileTitle, ProfileDownload, ProfileQR, ProfileNeedsAddress, ProfileNoPassword string

	TroubleTitle, TroublePassword, TroublePorts, TroubleMistakes                                              string
	PortRows                                                                                                  [][2]string
	MistakeServer, MistakeIMAPvsPOP, MistakePort995, MistakePort465, MistakeUsername, MistakeHTTPS, IMAPvsPOP string

	RawTitle, RawIntro, RawAutoconfig, RawISPDB, RawAutodiscover, RawProfile string

	NotFoundTitle, NotFound, NotFoundDomain, BadRequestTitle, BadRequest string
	Footer                                                               string
}

var ui = map[string]*uiText{
	"en": {
		LangName:           "English",
		SiteTitle:          "Mail settings",
		IndexIntro:         "This server tells mail apps how to connect: Thunderbird, Outlook, Apple Mail and others ask it for the settings of your address and set themselves up. You can also read them here and enter them by hand.",
		IndexWhat:          []string{"Mozilla autoconfig for Thunderbird and most open-source apps", "Autodiscover for Outlook", "DNS SRV records (RFC 6186)", "configuration profiles for iPhone, iPad and Mac"},
		IndexProviders:     "Mail services described here",
		IndexDomains:       "Addresses at",
		IndexMore:          "and %d more domains",
		IndexMoreProviders: "And %d more mail services: enter your address above to see its settings.",
		IndexForm:          "Show the settings for your address",
		AddressLabel:       "Your email address",
		AddressPlaceholder: "you@example.com",
		Show:               "Show settings",

		SetupTitle:     "Set up %s",
		SetupFor:       "Settings for %s",
		SetupForDomain: "Settings for addresses at %s",
		BeforeYouStart: "Before you start",
		OpenSettings:   "Open the page where you do this",

		ServersTitle: "Servers",
		ColProtocol:  "Protocol", ColServer: "Server", ColPort: "Port", ColSecurity: "Security", ColUsername: "Username", ColPassword: "Password",
		Incoming: "incoming", Outgoing: "outgoing",
		SecSSL: "SSL/TLS", SecSTARTTLS: "STARTTLS", SecPlain: "none (not encrypted)",
		UserAddress: "your full email address", UserLocal: "the part of your address before the @", UserDomain: "the part of your address after the @",
		PasswordDefault: "the password of your email account",

		DAVTitle:    "Calendars and contacts",
		DAVIntro:    "Calendar and contacts apps (Thunderbird, Apple Calendar and Contacts, DAVx⁵, Evolution) find these from your address; if one asks for a server, enter the URL.",
		DAVCalendar: "Calendar (CalDAV)", DAVContacts: "Contacts (CardDAV)", ColService: "Service", ColURL: "URL",

		ClientsTitle:       "Step by step",
		Thunderbird:        "Thunderbird (Windows, Mac, Linux)",
		OutlookNew:         "Outlook (new Outlook for Windows, Outlook for Mac)",
		OutlookClassic:     "Outlook (classic, Windows)",
		AppleMail:          "Apple Mail (iPhone, iPad, Mac)",
		AppleProfile:       "With the profile (easiest)",
		AppleManual:        "By hand",
		Android:            "Android",
		GmailApp:           "Gmail app",
		ThunderbirdAndroid: "Thunderbird for Android (K-9 Mail)",
		Foxmail:            "Foxmail",
		StepsThunderbird: []string{
			"Open Thunderbird. On first start the account window opens by itself; otherwise choose ☰ → Account Settings → Account Actions → Add Mail Account.",
			"Enter your name, your address and the password (%s), then choose Continue.",
			"Thunderbird finds the settings itself. If it does not, choose Configure manually and enter the servers below.",
			"Choose Done.",
		},
		StepsOutlookNew: []string{
			"Choose Settings → Accounts → Add account, enter your address and choose Continue.",
			"If Outlook offers a sign-in page of a big provider, choose the option to set up the account with IMAP instead (Advanced setup, or Sync directly with IMAP).",
			"Enter the password (%s) and the servers below, then choose Continue.",
		},
		StepsOutlookClassic: []string{
			"Choose File → Add Account and enter your address.",
			"Open Advanced options, tick Let me set up my account manually and choose Connect.",
			"Choose IMAP, enter the servers below with the encryption method SSL/TLS, and the password (%s).",
		},
		StepsAppleProfile: []string{
			"Open this page on the iPhone, iPad or Mac (scan the QR code with the camera) and choose Download profile.",
			"iPhone and iPad: open Settings, choose Profile Downloaded, then Install. Mac: open System Settings → Privacy & Security → Profiles (on older systems: General → Device Management) and install it.",
			"Enter the password (%s) when asked. Mail then lists the account.",
		},
		StepsAppleManual: []string{
			"iPhone and iPad: Settings → Apps → Mail → Mail Accounts → Add Account → Other → Add Mail Account. Mac: Mail → Add Account → Other Mail Account.",
			"Enter your name, your address and the password (%s), then choose Next.",
			"Choose IMAP (or POP when that is all there is) and enter the servers below; then Save.",
		},
		StepsGmail: []string{
			"In the Gmail app choose your picture → Add another account → Other.",
			"Enter your address, choose Manual setup, then Personal (IMAP).",
			"Enter the password (%s), then the servers below, with the security type SSL/TLS.",
		},
		StepsThunderbirdAndroid: []string{
			"Choose Add account and enter your address.",
			"The app finds the settings itself; enter the password (%s) when asked.",
			"If it asks for the servers, enter those below.",
		},
		StepsFoxmail: []string{
			"Choose ☰ → Account Management → New (Foxmail on Windows: the + below the account list).",
			"Enter your address and the password (%s), then choose Create.",
			"If Foxmail cannot connect, choose Manual setup and enter the servers below with SSL ticked.",
		},
		ManualIncoming: "Incoming: %s, server %s, port %s, %s, username %s",
		ManualOutgoing: "Outgoing: %s, server %s, port %s, %s, username %s",

		ProfileTitle:        "Configuration profile for Apple devices",
		ProfileDownload:     "Download profile",
		ProfileQR:           "Scan with the camera of an iPhone or iPad to open the profile there.",
		ProfileNeedsAddress: "Enter your address above to get a profile made for it.",
		ProfileNoPassword:   "The profile holds no password: the device asks for it.",

		TroubleTitle:    "When it does not work",
		TroublePassword: "The app says the password is wrong: mail apps need %s.",
		TroublePorts:    "Each port goes with one kind of security:",
		PortRows: [][2]string{
			{"993", "IMAP with SSL/TLS"}, {"143", "IMAP with STARTTLS"},
			{"995", "POP3 with SSL/TLS"}, {"110", "POP3 with STARTTLS"},
			{"465", "SMTP (sending) with SSL/TLS"}, {"587", "SMTP (sending) with STARTTLS"},
		},
		TroubleMistakes:  "Mistakes often copied from guides on the web:",
		MistakeServer:    "%s uses %s on port %s with %s.",
		MistakeIMAPvsPOP: "IMAP and POP3 are different servers: %s is for %s.",
		MistakePort995:   "Port 995 is POP3, not IMAP.",
		MistakePort465:   "Port 465 is for sending (SMTP), not for receiving.",
		MistakeUsername:  "The username is your full address, not only the part before the @.",
		MistakeHTTPS:     "Mail apps connect with SSL/TLS or STARTTLS on the ports above; HTTPS is only for web mail.",
		IMAPvsPOP:        "IMAP keeps mail on the server and in sync across your devices; POP3 downloads it to one device.",

		RawTitle:        "For programs",
		RawIntro:        "What mail apps read:",
		RawAutoconfig:   "Mozilla autoconfig",
		RawISPDB:        "autoconfig by domain",
		RawAutodiscover: "Outlook Autodiscover (JSON)",
		RawProfile:      "Apple configuration profile",

		NotFoundTitle:   "Not found",
		NotFound:        "No mail settings are published here for this domain.",
		NotFoundDomain:  "No mail settings are published here for %s.",
		BadRequestTitle: "Not an email address",
		BadRequest:      "That is not an email address. Enter it as name@example.com.",
		Footer:          "Served by mailconf.",
	},
	"zh-CN": {
		LangName:           "中文",
		SiteTitle:          "邮箱设置",
		IndexIntro:         "本服务器告诉邮件客户端如何连接：Thunderbird、Outlook、苹果“邮件”等会向它查询你的邮箱地址的设置并自动完成配置。你也可以在这里查看设置并手动填写。",
		IndexWhat:          []string{"Mozilla 自动配置（Thunderbird 及多数开源客户端）", "Outlook 自动发现（Autodiscover）", "DNS SRV 记录（RFC 6186）", "iPhone、iPad 和 Mac 的描述文件"},
		IndexProviders:     "这里提供设置的邮箱服务",
		IndexDomains:       "邮箱后缀",
		IndexMore:          "以及另外 %d 个域名",
		IndexMoreProviders: "另有 %d 个邮件服务：请在上方输入邮箱地址查看其设置。",
		IndexForm:          "查看你的邮箱地址的设置",
		AddressLabel:       "你的邮箱地址",
		AddressPlaceholder: "you@example.com",
		Show:               "查看设置",

		SetupTitle:     "设置%s",
		SetupFor:       "%s 的设置",
		SetupForDomain: "%s 邮箱的设置",
		BeforeYouStart: "开始之前",
		OpenSettings:   "打开进行此设置的页面",

		ServersTitle: "服务器",
		ColProtocol:  "协议", ColServer: "服务器", ColPort: "端口", ColSecurity: "加密方式", ColUsername: "用户名", ColPassword: "密码",
		Incoming: "收信", Outgoing: "发信",
		SecSSL: "SSL/TLS", SecSTARTTLS: "STARTTLS", SecPlain: "无（不加密）",
		UserAddress: "完整的邮箱地址", UserLocal: "邮箱地址中 @ 前面的部分", UserDomain: "邮箱地址中 @ 后面的部分",
		PasswordDefault: "邮箱账户的密码",

		DAVTitle:    "日历和通讯录",
		DAVIntro:    "日历和通讯录应用（Thunderbird、苹果“日历”和“通讯录”、DAVx⁵、Evolution）可根据邮箱地址自动找到这些服务；如果应用要求填写服务器，请输入下面的网址。",
		DAVCalendar: "日历（CalDAV）", DAVContacts: "通讯录（CardDAV）", ColService: "服务", ColURL: "网址",

		ClientsTitle:       "分步说明",
		Thunderbird:        "Thunderbird（Windows、Mac、Linux）",
		OutlookNew:         "Outlook（新版 Windows Outlook、Mac 版 Outlook）",
		OutlookClassic:     "Outlook（经典版，Windows）",
		AppleMail:          "苹果“邮件”（iPhone、iPad、Mac）",
		AppleProfile:       "使用描述文件（最简单）",
		AppleManual:        "手动设置",
		Android:            "安卓",
		GmailApp:           "Gmail 应用",
		ThunderbirdAndroid: "安卓版 Thunderbird（K-9 Mail）",
		Foxmail:            "Foxmail",
		StepsThunderbird: []string{
			"打开 Thunderbird。首次启动时会自动打开账户窗口；否则选择 ☰ → 账户设置 → 账户操作 → 添加邮件账户。",
			"输入你的姓名、邮箱地址和密码（%s），然后点击“继续”。",
			"Thunderbird 会自动找到设置。如果没有找到，点击“手动配置”，填写下面的服务器。",
			"点击“完成”。",
		},
		StepsOutlookNew: []string{
			"选择“设置 → 账户 → 添加账户”，输入邮箱地址，点击“继续”。",
			"如果 Outlook 打开某个大型服务商的登录页面，请改选使用 IMAP 设置账户（“高级设置”或“直接与 IMAP 同步”）。",
			"输入密码（%s）和下面的服务器，然后点击“继续”。",
		},
		StepsOutlookClassic: []string{
			"选择“文件 → 添加账户”，输入邮箱地址。",
			"展开“高级选项”，勾选“让我手动设置我的账户”，点击“连接”。",
			"选择 IMAP，填写下面的服务器，加密方法选 SSL/TLS，并输入密码（%s）。",
		},
		StepsAppleProfile: []string{
			"在 iPhone、iPad 或 Mac 上打开本页面（用相机扫描二维码），点击“下载描述文件”。",
			"iPhone 和 iPad：打开“设置”，选择“已下载描述文件”，然后点击“安装”。Mac：打开“系统设置 → 隐私与安全性 → 描述文件”（较早的系统：“通用 → 设备管理”）并安装。",
			"按提示输入密码（%s）。之后“邮件”中就会出现该账户。",
		},
		StepsAppleManual: []string{
			"iPhone 和 iPad：设置 → App → 邮件 → 邮件账户 → 添加账户 → 其他 → 添加邮件账户。Mac：邮件 → 添加账户 → 其他邮件账户。",
			"输入姓名、邮箱地址和密码（%s），点击“下一步”。",
			"选择 IMAP（只有 POP 时选 POP），填写下面的服务器，然后点击“存储”。",
		},
		StepsGmail: []string{
			"在 Gmail 应用中点击头像 → 添加其他账号 → 其他。",
			"输入邮箱地址，选择“手动设置”，然后选择“个人 (IMAP)”。",
			"输入密码（%s），再填写下面的服务器，安全类型选 SSL/TLS。",
		},
		StepsThunderbirdAndroid: []string{
			"选择“添加账户”，输入邮箱地址。",
			"应用会自动找到设置；按提示输入密码（%s）。",
			"如果要求填写服务器，请填写下面的服务器。",
		},
		StepsFoxmail: []string{
			"选择 ☰ → 账号管理 → 新建（Windows 版 Foxmail：账号列表下方的 +）。",
			"输入邮箱地址和密码（%s），点击“创建”。",
			"如果无法连接，选择“手动设置”，填写下面的服务器并勾选 SSL。",
		},
		ManualIncoming: "收信：%s，服务器 %s，端口 %s，%s，用户名 %s",
		ManualOutgoing: "发信：%s，服务器 %s，端口 %s，%s，用户名 %s",

		ProfileTitle:        "苹果设备的描述文件",
		ProfileDownload:     "下载描述文件",
		ProfileQR:           "用 iPhone 或 iPad 的相机扫描，即可在设备上打开描述文件。",
		ProfileNeedsAddress: "在上方输入你的邮箱地址，即可获得为它生成的描述文件。",
		ProfileNoPassword:   "描述文件中不包含密码，设备会要求你输入。",

		TroubleTitle:    "无法使用时",
		TroublePassword: "客户端提示密码错误：邮件客户端需要%s。",
		TroublePorts:    "每个端口对应一种加密方式：",
		PortRows: [][2]string{
			{"993", "IMAP，SSL/TLS"}, {"143", "IMAP，STARTTLS"},
			{"995", "POP3，SSL/TLS"}, {"110", "POP3，STARTTLS"},
			{"465", "SMTP（发信），SSL/TLS"}, {"587", "SMTP（发信），STARTTLS"},
		},
		TroubleMistakes:  "网上教程中常见的错误：",
		MistakeServer:    "%s 使用 %s，端口 %s，%s。",
		MistakeIMAPvsPOP: "IMAP 和 POP3 是不同的服务器：%s 用于 %s。",
		MistakePort995:   "995 是 POP3 的端口，不是 IMAP 的。",
		MistakePort465:   "465 用于发信（SMTP），不用于收信。",
		MistakeUsername:  "用户名是完整的邮箱地址，不只是 @ 前面的部分。",
		MistakeHTTPS:     "邮件客户端通过上述端口使用 SSL/TLS 或 STARTTLS 连接；HTTPS 只用于网页版邮箱。",
		IMAPvsPOP:        "IMAP 将邮件保留在服务器上，并在多台设备间同步；POP3 把邮件下载到一台设备上。",

		RawTitle:        "供程序使用",
		RawIntro:        "邮件客户端读取的内容：",
		RawAutoconfig:   "Mozilla 自动配置",
		RawISPDB:        "按域名的自动配置",
		RawAutodiscover: "Outlook 自动发现（JSON）",
		RawProfile:      "苹果描述文件",

		NotFoundTitle:   "未找到",
		NotFound:        "这里没有发布该域名的邮箱设置。",
		NotFoundDomain:  "这里没有发布 %s 的邮箱设置。",
		BadRequestTitle: "不是邮箱地址",
		BadRequest:      "这不是一个邮箱地址。请按 name@example.com 的格式输入。",
		Footer:          "由 mailconf 提供。",
	},
}
