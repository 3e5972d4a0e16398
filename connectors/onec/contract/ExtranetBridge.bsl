// ExtranetBridge: the module of the web service ExtranetBridge (contract 1.0), a REFERENCE SKETCH.
//
// !!! This code has NEVER been compiled or executed: there is no 1C:Enterprise platform in the
// !!! Extranet Bridge project. It is annotated pseudo-code in 1C's language. It names the objects and the
// !!! order of the steps described in docs/onec-contract.md. A 1C programmer must write, compile and
// !!! test the real module in the extension against the customer's ZUP release.
//
// Objects assumed in the extension: the exchange plan ОбменExtranetBridge (the node code = the user's
// node), the information register ВнешниеЗапросыExtranetBridge, and the XDTO package with the namespace
// below. Business errors go into return.errors; exceptions become SOAP faults (infrastructure only).

#Область ПрограммныйИнтерфейс

Функция GetInfo()
	Результат = НовыйОбъект("ServiceInfo");
	Результат.contractVersion = "1.0";
	Результат.configName = Метаданные.Имя;
	Результат.configVersion = Метаданные.Версия;
	Результат.serverTime = ТекущаяДата(); // local server time, no offset on the wire
	Результат.timeZone = Константы.ExtranetBridgeЧасовойПояс.Получить(); // e.g. "Europe/Moscow"
	Результат.nodeCode = УзелОбмена().Код;
	Возврат Результат;
КонецФункции

Функция GetSnapshotPage(entity, afterRef, pageSize)
	Результат = НовыйОбъект("SnapshotPage");
	Результат.entity = entity;
	Размер = ?(pageSize = Неопределено, 500, pageSize);
	Если Размер < 1 Или Размер > 1000 Тогда
		ДобавитьОшибку(Результат, "INVALID_PAGE_SIZE", "Размер страницы от 1 до 1000", "pageSize");
		Возврат Результат;
	КонецЕсли;
	ИмяТаблицы = ТаблицаСущности(entity); // "Справочник.Сотрудники", …; Неопределено for unknown
	Если ИмяТаблицы = Неопределено Тогда
		ДобавитьОшибку(Результат, "UNKNOWN_ENTITY", "Неизвестная сущность", "entity");
		Возврат Результат;
	КонецЕсли;
	Запрос = Новый Запрос;
	Запрос.Текст = СтрШаблон(
		"ВЫБРАТЬ ПЕРВЫЕ %1 Т.Ссылка КАК Ссылка ИЗ %2 КАК Т ГДЕ Т.Ссылка > &После УПОРЯДОЧИТЬ ПО Т.Ссылка",
		Формат(Размер + 1, "ЧГ="), ИмяТаблицы);
	Запрос.УстановитьПараметр("После", СсылкаПоGUID(ИмяТаблицы, afterRef));
	Выборка = Запрос.Выполнить().Выбрать();
	Результат.items = НовыйОбъект("RecordList");
	Номер = 0;
	Пока Выборка.Следующий() Цикл
		Номер = Номер + 1;
		Если Номер > Размер Тогда
			Результат.hasMore = Истина;
			Прервать;
		КонецЕсли;
		Результат.items.item.Добавить(ЗаписьСущности(entity, Выборка.Ссылка));
		Результат.lastRef = Строка(Выборка.Ссылка.УникальныйИдентификатор());
	КонецЦикла;
	Возврат Результат;
КонецФункции

Функция GetChanges(ackMessageNo, maxItems)
	Результат = НовыйОбъект("ChangeBatch");
	Узел = УзелОбмена();
	НачатьТранзакцию();
	Попытка
		Блокировка = Новый БлокировкаДанных;
		Блокировка.Добавить("ПланОбмена.ОбменExtranetBridge").УстановитьЗначение("Ссылка", Узел);
		Блокировка.Заблокировать();
		УзелОбъект = Узел.ПолучитьОбъект();
		Если ackMessageNo > УзелОбъект.НомерОтправленного Тогда
			ОтменитьТранзакцию();
			Результат.messageNo = УзелОбъект.НомерОтправленного;
			ДобавитьОшибку(Результат, "ACK_OUT_OF_RANGE", "Номер подтверждения больше отправленного", "ackMessageNo");
			Возврат Результат;
		КонецЕсли;
		Если ackMessageNo > 0 Тогда
			ПланыОбмена.УдалитьРегистрациюИзменений(Узел, ackMessageNo); // rows stamped ≤ ack
			УзелОбъект.НомерПринятого = ackMessageNo;
		КонецЕсли;
		УзелОбъект.НомерОтправленного = УзелОбъект.НомерОтправленного + 1;
		УзелОбъект.Записать();
		Результат.messageNo = УзелОбъект.НомерОтправленного;
		Выборка = ПланыОбмена.ВыбратьИзменения(Узел, Результат.messageNo); // stamps unstamped rows
		Результат.items = НовыйОбъект("ChangeList");
		Лимит = ?(maxItems = Неопределено, 500, maxItems);
		Пока Выборка.Следующий() Цикл
			Если Результат.items.item.Количество() >= Лимит Тогда
				Результат.hasMore = Истина; // the rest stay registered (stamped) and come next time
				Прервать;
			КонецЕсли;
			Результат.items.item.Добавить(ИзменениеИзДанных(Выборка.Получить()));
		КонецЦикла;
		ЗафиксироватьТранзакцию();
	Исключение
		ОтменитьТранзакцию();
		ВызватьИсключение; // → SOAP fault: infrastructure, the bridge retries
	КонецПопытки;
	Возврат Результат;
КонецФункции

Функция SubmitRequest(requestId, kind, personRef, employeeRef, dateFrom, dateTo, details, approvals, attachments)
	Результат = НовыйОбъект("SubmitResult");
	Результат.requestId = requestId;
	НачатьТранзакцию();
	Попытка
		Блокировка = Новый БлокировкаДанных;
		Блокировка.Добавить("РегистрСведений.ВнешниеЗапросыExtranetBridge").УстановитьЗначение(
			"ИдентификаторЗапроса", requestId);
		Блокировка.Заблокировать();
		Существующий = РегистрыСведений.ВнешниеЗапросыExtranetBridge.Получить(
			Новый Структура("ИдентификаторЗапроса", requestId));
		Если ЗначениеЗаполнено(Существующий.Документ) Тогда // idempotency: the same document again
			ЗаполнитьДокументВРезультате(Результат, Существующий.Документ);
			Результат.status = ?(Существующий.ВидЗаявки = kind, "AlreadyExists", "Rejected");
			Если Результат.status = "Rejected" Тогда
				ДобавитьОшибку(Результат, "REQUEST_ID_CONFLICT", "Идентификатор уже использован", "requestId");
			КонецЕсли;
			ЗафиксироватьТранзакцию();
			Возврат Результат;
		КонецЕсли;
		Ошибки = ПроверитьЗаявку(kind, personRef, employeeRef, dateFrom, dateTo, details); // REQUIRED, …
		Если Ошибки.Количество() > 0 Тогда
			ОтменитьТранзакцию();
			Результат.status = "Rejected";
			Для Каждого Ошибка Из Ошибки Цикл
				ДобавитьОшибку(Результат, Ошибка.code, Ошибка.message, Ошибка.field);
			КонецЦикла;
			Возврат Результат;
		КонецЕсли;
		// Leave → Документы.ЗаявкаНаОтпуск, LeaveCancel → ОтменаЗаявкиНаОтпуск, SickNotice →
		// СообщениеОбОтсутствии, Certificate → ЗапросСправкиСотрудником, IncomeCertificate →
		// ЗапросСправки2НДФЛСотрудником, BusinessTrip → ЗаявкаНаКомандировку, others → a task for HR.
		Документ = СоздатьДокументЗаявки(kind, personRef, employeeRef, dateFrom, dateTo, details, approvals);
		ПрисоединитьФайлы(Документ, attachments);
		Запись = РегистрыСведений.ВнешниеЗапросыExtranetBridge.СоздатьМенеджерЗаписи();
		Запись.ИдентификаторЗапроса = requestId;
		Запись.Документ = Документ;
		Запись.ВидЗаявки = kind;
		Запись.Статус = "InReview";
		Запись.Записать();
		ПланыОбмена.ЗарегистрироватьИзменения(УзелОбмена(), Документ); // entity Request in the feed
		ЗафиксироватьТранзакцию();
	Исключение
		ОтменитьТранзакцию();
		ВызватьИсключение;
	КонецПопытки;
	Результат.status = "Created";
	ЗаполнитьДокументВРезультате(Результат, Документ);
	Возврат Результат;
КонецФункции

Функция WithdrawRequest(requestId, reason)
	Результат = НовыйОбъект("WithdrawResult");
	Результат.requestId = requestId;
	НачатьТранзакцию();
	Попытка
		Блокировка = Новый БлокировкаДанных;
		Блокировка.Добавить("РегистрСведений.ВнешниеЗапросыExtranetBridge").УстановитьЗначение(
			"ИдентификаторЗапроса", requestId);
		Блокировка.Заблокировать();
		Запись = РегистрыСведений.ВнешниеЗапросыExtranetBridge.СоздатьМенеджерЗаписи();
		Запись.ИдентификаторЗапроса = requestId;
		Запись.Прочитать();
		Если Не Запись.Выбран() Тогда
			Результат.status = "NotFound";
			ДобавитьОшибку(Результат, "NOT_FOUND", "Заявка не найдена", "requestId");
		ИначеЕсли Запись.Статус = "Withdrawn" Тогда
			Результат.status = "AlreadyWithdrawn";
		ИначеЕсли Запись.Статус <> "InReview" Тогда // Согласовано/Отклонено, or an Отпуск posted: HR decided
			Результат.status = "TooLate";
			ДобавитьОшибку(Результат, "TOO_LATE", ТекстПозднегоОтзыва(Запись.Документ), Неопределено);
		Иначе
			// The document's Статус := Перечисления.СтатусыЗаявокСотрудников.Отозвано, reason in its comment
			// (a task for HR is stopped instead); HR's review skips Отозвано documents from then on.
			ОтозватьДокументЗаявки(Запись.Документ, reason);
			Запись.Статус = "Withdrawn";
			Запись.Записать();
			ПланыОбмена.ЗарегистрироватьИзменения(УзелОбмена(), Запись.Документ); // RequestStatus Withdrawn
			Результат.status = "Withdrawn";
		КонецЕсли;
		ЗафиксироватьТранзакцию();
	Исключение
		ОтменитьТранзакцию();
		ВызватьИсключение;
	КонецПопытки;
	Возврат Результат;
КонецФункции

Функция SubmitTimesheet(requestId, orgRef, deptRef, periodFrom, periodTo, rows, approvals)
	Результат = НовыйОбъект("TimesheetResult");
	Результат.requestId = requestId;
	// 1. requestId already in ВнешниеЗапросыExtranetBridge → AlreadyExists (or REQUEST_ID_CONFLICT when
	//    the key differs).
	// 2. Validation (ORG_NOT_FOUND, DEPARTMENT_NOT_FOUND, INVALID_PERIOD: one month, EMPLOYEE_NOT_FOUND,
	//    DAY_OUTSIDE_PERIOD, INVALID_HOURS) → Rejected, nothing written.
	// 3. Find the ТабельУчетаРабочегоВремени of (Организация, Подразделение, ДатаНачалаПериода,
	//    ДатаОкончанияПериода), or create it.
	// 4. For each row and day: when ДанныеСостоянийСотрудников has a state for the Сотрудник on that day,
	//    the day belongs to the absence document. Skip it, and add a conflict {employeeRef, date, ownedBy
	//    = presentation of ДокументОснование} when the submitted code differs from the absence's own one.
	//    Otherwise write ВидВремениN / ЧасовN with the ВидыИспользованияРабочегоВремени found by БуквенныйКод.
	// 5. Write (post or not, per a setting), record requestId in the register, commit → Created/Replaced.
	ВызватьИсключение "Эскиз: см. docs/onec-contract.md, SubmitTimesheet";
КонецФункции

Функция GetWorkSchedule(employeeRefs, periodFrom, periodTo)
	// For each Сотрудник: ГрафикРаботыСотрудников (СрезПоследних) → ЗначенияГрафиков/Производственный
	// календарь for the period; ИндивидуальныйГрафик overrides. Days outside the employment: 0 hours.
	ВызватьИсключение "Эскиз: см. docs/onec-contract.md, GetWorkSchedule";
КонецФункции

Функция GetDocument(requestId)
	Результат = НовыйОбъект("DocumentStatus");
	Результат.requestId = requestId;
	Запись = РегистрыСведений.ВнешниеЗапросыExtranetBridge.Получить(
		Новый Структура("ИдентификаторЗапроса", requestId));
	Если Не ЗначениеЗаполнено(Запись.Документ) Тогда
		Результат.status = "NotFound";
		ДобавитьОшибку(Результат, "NOT_FOUND", "Заявка не найдена", "requestId");
		Возврат Результат;
	КонецЕсли;
	Результат.status = Запись.Статус;
	ЗаполнитьДокументВРезультате(Результат, Запись.Документ);
	// For ЗапросСправкиСотрудником: the attached Справка (РаботаСФайлами.ДвоичныеДанныеФайла) once processed.
	Файл = ФайлРезультата(Запись.Документ);
	Если Файл <> Неопределено Тогда
		Результат.fileName = Файл.Имя;
		Результат.mime = "application/pdf";
		Результат.content = Файл.ДвоичныеДанные; // xs:base64Binary
	КонецЕсли;
	Возврат Результат;
КонецФункции

#КонецОбласти

#Область СлужебныеПроцедурыИФункции

Функция НовыйОбъект(ИмяТипа)
	Возврат ФабрикаXDTO.Создать(ФабрикаXDTO.Тип("http://extranet-bridge.example/zup/1", ИмяТипа));
КонецФункции

Процедура ДобавитьОшибку(Результат, Код, Сообщение, Поле)
	Если Результат.errors = Неопределено Тогда
		Результат.errors = НовыйОбъект("ErrorList");
	КонецЕсли;
	Ошибка = НовыйОбъект("Error");
	Ошибка.code = Код;
	Ошибка.message = Сообщение;
	Ошибка.field = Поле;
	Результат.errors.item.Добавить(Ошибка);
КонецПроцедуры

Функция УзелОбмена()
	// The node that belongs to the current user (a constant or an attribute of the node).
	Возврат ПланыОбмена.ОбменExtranetBridge.НайтиПоКоду(Константы.ExtranetBridgeКодУзла.Получить());
КонецФункции

// ТаблицаСущности, СсылкаПоGUID, ЗаписьСущности (builds Record: organization | department | position |
// person | employee with current + history | absence | request), ИзменениеИзДанных (Change with
// deleted = Истина and payload nil for УдалениеОбъекта), ПроверитьЗаявку, СоздатьДокументЗаявки,
// ПрисоединитьФайлы, ЗаполнитьДокументВРезультате, ФайлРезультата, ОтозватьДокументЗаявки and
// ТекстПозднегоОтзыва («оформите отмену отпуска» for a posted leave) are left to the implementer. The empty date is
// '00010101', and the empty ref prints as 00000000-0000-0000-0000-000000000000: send them as they are.

#КонецОбласти
