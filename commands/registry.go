package commands

import (
	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// pageParam picks an older page of a list: page:2 is the second.
var pageParam = bot.Param{Name: "page", Help: "Older page (2, 3, …)", Kind: bot.Integer, Keyed: true, Min: 1, Max: maxPages}

// maxPages is how far back a list can be paged.
const maxPages = 20

// statusNames are the statuses a moderator can type.
func statusNames() []string {
	var out []string
	for _, st := range store.Statuses() {
		out = append(out, string(st))
	}
	return out
}

// declarations lists every command once: the router, /help and each platform's command
// menu are all made from this list.
func (s *Set) declarations() []command {
	return []command{
		{Command: bot.Command{
			Name: "latest", Summary: "The newest updates", Usage: "[count]",
			Help:   "Shows the most recent updates (default 5, at most 20), newest event first, each with who claims it and whether it is verified.",
			Params: []bot.Param{pageParam, {Name: "count", Help: "How many (1–20)", Kind: bot.Integer, Min: 1, Max: 20}},
		}, run: s.latest, cached: true},
		{Command: bot.Command{
			Name: "town", Summary: "Who holds a town, and its newest updates", Usage: "<name>",
			Help:   "Shows who holds a town as the moderators last recorded it, how sure that is, and the newest updates about it. Any spelling works: Theinni, Hsenwi, Hseni, or the Burmese name.",
			Params: []bot.Param{pageParam, {Name: "name", Help: "Town name, any spelling", Kind: bot.Town, Required: true}},
		}, run: s.town, cached: true},
		{Command: bot.Command{
			Name: "claims", Summary: "What a group claims", Usage: "<group>",
			Help:   "Shows a group's newest claims with their verification status. For a member of an alliance (MNDAA, TNLA, AA), the alliance's statements are included and marked.",
			Params: []bot.Param{pageParam, {Name: "group", Help: "Group name or alias", Kind: bot.GroupName, Required: true}},
		}, run: s.claims, cached: true},
		{Command: bot.Command{
			Name: "help", Summary: "What sitrep can do", Usage: "[command]",
			Help:   "Lists the commands you can use, or explains one.",
			Params: []bot.Param{{Name: "command", Help: "A command name"}},
		}, run: s.help},
		{Command: bot.Command{
			Name: "about", Summary: "What sitrep is and where its data comes from",
			Help: "Explains what sitrep is, where its information comes from, and how to read its verification labels.",
		}, run: s.about, cached: true},
		{Command: bot.Command{
			Name: "subscribe", Summary: "Push updates into this chat", Usage: "[all | town <name> | group <name>] [quiet] [digest:daily[@HH]]",
			Help: "Subscribes this chat to every update (all, the default), to updates about one town, or to one group's claims and mentions. " +
				"quiet sends ordinary updates without a notification (a change of a town's control still notifies); digest:daily collects them " +
				"into one message a day, at 07:00 Myanmar time or at the hour given (digest:daily@18). Chat admins only in groups.",
			Role: bot.ChatManager,
			Params: []bot.Param{
				{Name: "filter", Help: "all, town or group", Choices: []string{"all", "town", "group"}},
				{Name: "name", Help: "The town or group"},
				{Name: "quiet", Help: "Send without notifications", Choices: []string{"yes", "no"}},
				{Name: "digest", Help: "One message a day: daily or daily@HH"},
			},
		}, run: s.subscribe, ownText: true},
		{Command: bot.Command{
			Name: "unsubscribe", Summary: "Stop pushing updates into this chat", Usage: "[all | town <name> | group <name>]",
			Help: "Removes one of this chat's subscriptions, or all of them when given no filter.",
			Role: bot.ChatManager,
			Params: []bot.Param{
				{Name: "filter", Help: "all, town or group", Choices: []string{"all", "town", "group"}},
				{Name: "name", Help: "The town or group"},
			},
		}, run: s.unsubscribe},
		{Command: bot.Command{
			Name: "subscriptions", Summary: "This chat's subscriptions",
			Help: "Lists what this chat is subscribed to.",
			Role: bot.ChatManager,
		}, run: s.subscriptions},
		{Command: bot.Command{
			Name: "post", Summary: "Post an update (moderators)",
			Usage: "[claim:<group>] [source:<outlet or URL>] [date:YYYY-MM-DD] [town:<name>]… [group:<name>]… [status:<status>] [control:<group>] <text>",
			Help: "Posts an update. Leading key:value words set who claims it, its source, when it happened " +
				"(YYYY-MM-DD, YYYY-MM, or ~YYYY-MM-DD for approximate) and extra towns or groups; quote values with spaces " +
				"(source:\"Myanmar Now\"). Towns and groups named in the text are tagged automatically. A claim is unverified until /verify. " +
				"control:<group> with town:<name> also records that the group now holds the town, and notifies even quiet subscribers.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "claim", Help: "Group that claims it", Kind: bot.GroupName, Keyed: true},
				{Name: "source", Help: "Outlet name or URL", Keyed: true},
				{Name: "date", Help: "When it happened: YYYY-MM-DD", Keyed: true},
				{Name: "town", Help: "A town it concerns", Kind: bot.Town, Keyed: true, Repeat: true},
				{Name: "group", Help: "A group it concerns", Kind: bot.GroupName, Keyed: true, Repeat: true},
				{Name: "status", Help: "Verification status", Keyed: true, Choices: []string{"unverified", "confirmed", "disputed", "false"}},
				{Name: "control", Help: "Group that now holds the town: (always notifies)", Kind: bot.GroupName, Keyed: true},
				{Name: "text", Help: "What happened", Required: true},
			},
		}, run: s.post},
		{Command: bot.Command{
			Name: "verify", Summary: "Set an update's verification status (moderators)", Usage: "<id> <status> [note]",
			Help: "Sets an update's status to unverified, confirmed, disputed or false, with an optional note saying why. Use /retract to withdraw it.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "id", Help: "Update id", Kind: bot.Integer, Required: true},
				{Name: "status", Help: "New status", Required: true, Choices: statusNames()},
				{Name: "note", Help: "Why"},
			},
		}, run: s.verify},
		{Command: bot.Command{
			Name: "edit", Summary: "Correct an update's text (moderators)", Usage: "<id> <text>",
			Help: "Replaces an update's text; the old text stays in its history and towns and groups are tagged again.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "id", Help: "Update id", Kind: bot.Integer, Required: true},
				{Name: "text", Help: "The corrected text", Required: true},
			},
		}, run: s.edit},
		{Command: bot.Command{
			Name: "retract", Summary: "Withdraw an update (moderators)", Usage: "<id> <reason>",
			Help: "Marks an update as retracted with a reason. It is never deleted: it shows as RETRACTED everywhere.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "id", Help: "Update id", Kind: bot.Integer, Required: true},
				{Name: "reason", Help: "Why it is withdrawn", Required: true},
			},
		}, run: s.retract},
		{Command: bot.Command{
			Name: "deliveries", Summary: "Where an update went (moderators)", Usage: "<id>",
			Help: "Shows, per platform, how many chats an update (and its corrections) was sent to, how many are still pending and which failed, with the last error.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "id", Help: "Update id", Kind: bot.Integer, Required: true},
			},
		}, run: s.deliveries},
		{Command: bot.Command{
			Name: "control", Summary: "Record who holds a town (moderators)", Usage: "<town> <group> [update id]",
			Help: "Records that a group holds a town, optionally citing the update that reports it (its status then shows with the control). Quote names with spaces: /control \"Chin Shwe Haw\" MNDAA 3.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "town", Help: "The town", Kind: bot.Town, Required: true},
				{Name: "group", Help: "The group that holds it", Kind: bot.GroupName, Required: true},
				{Name: "update", Help: "The update reporting it", Kind: bot.Integer, Min: 1, Max: 1 << 30},
			},
		}, run: s.control, ownText: true},
		{Command: bot.Command{
			Name: "alias", Summary: "Add another spelling of a town or group (moderators)", Usage: "<known name> = <new spelling>",
			Help: "Teaches sitrep another spelling of a town or group, e.g. /alias Laukkai = Laukkaing.",
			Role: bot.Moderator,
			Params: []bot.Param{
				{Name: "name", Help: "A name sitrep knows", Required: true},
				{Name: "alias", Help: "The new spelling", Required: true},
			},
		}, run: s.alias, ownText: true},
		{Command: bot.Command{
			Name: "addtown", Summary: "Add a town to the gazetteer (moderators)",
			Usage: "[burmese:<name>] [township:<name>] [region:<name>] [lat:<deg>] [lon:<deg>] <name>",
			Help:  "Adds a town. Quote values with spaces: /addtown region:\"Shan State (North)\" township:Hopang Hopang.",
			Role:  bot.Moderator,
			Params: []bot.Param{
				{Name: "burmese", Help: "Name in Burmese script", Keyed: true},
				{Name: "township", Help: "Township", Keyed: true},
				{Name: "region", Help: "State or region", Keyed: true},
				{Name: "lat", Help: "Latitude", Keyed: true},
				{Name: "lon", Help: "Longitude", Keyed: true},
				{Name: "name", Help: "The town's name", Required: true},
			},
		}, run: s.addTown},
		{Command: bot.Command{
			Name: "addgroup", Summary: "Add a group to the gazetteer (moderators)",
			Usage: "[kind:<eao|military|militia|resistance|alliance>] [full:<full name>] [members:<a,b>] <name>",
			Help:  "Adds an armed group or alliance; for an alliance, list its members by name.",
			Role:  bot.Moderator,
			Params: []bot.Param{
				{Name: "kind", Help: "What sort of group", Keyed: true, Choices: []string{"eao", "military", "militia", "resistance", "alliance"}},
				{Name: "full", Help: "Full name", Keyed: true},
				{Name: "members", Help: "Alliance members, comma-separated", Keyed: true},
				{Name: "name", Help: "Short name", Required: true},
			},
		}, run: s.addGroup},
		{Command: bot.Command{
			Name: "mod", Summary: "Manage moderators (admins)", Usage: "add|remove|list [platform:user id] [moderator|admin]",
			Help: "Adds, removes or lists moderators. Identities are platform:user id, e.g. telegram:123456 or discord:80351110224678912.",
			Role: bot.Admin,
			Params: []bot.Param{
				{Name: "action", Help: "add, remove or list", Required: true, Choices: []string{"add", "remove", "list"}},
				{Name: "user", Help: "platform:user id", Kind: bot.Person},
				{Name: "role", Help: "moderator (default) or admin", Choices: []string{"moderator", "admin"}},
			},
		}, run: s.mod},
	}
}
